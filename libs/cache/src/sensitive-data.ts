import { RE2JS } from 're2js';
import type { SensitiveDetectorName } from '#libs/config';

/**
 * Finds data that must never be kept in the shared cache: personal data (emails, card numbers) and credentials
 * (tokens, keys). A detector is a cheap literal check that rules most strings out, then a pattern on RE2's automaton
 * (re2js), whose time is linear in the text: a result is scanned whatever it holds, and V8's backtracking engine takes
 * quadratic time for patterns such as the email one on a long run of letters.
 */
interface Detector {
  /** Every match contains one of these (case-insensitive when `ignoreCase`); strings with none are skipped. */
  readonly hints?: readonly string[];
  readonly ignoreCase?: boolean;
  readonly find: (text: string) => boolean;
}

const pattern = (source: string, flags = 0) => {
  const compiled = RE2JS.compile(source, flags);
  return (text: string) => compiled.matcher(text).find();
};

/** The built-in detectors, by the names CACHE_SENSITIVE_DETECTORS lists. */
const DETECTORS: Readonly<Record<SensitiveDetectorName, Detector>> = {
  email: { hints: ['@'], find: pattern('[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}') },
  card_number: { find: (text) => containsCardNumber(text) },
  // Three base64url parts, the first two JSON objects (`{"` encodes as eyJ).
  jwt: { hints: ['eyJ'], find: pattern('eyJ[A-Za-z0-9_-]{4,}\\.eyJ[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]{8,}') },
  // OpenAI-style secret keys (sk-…, sk-proj-…), and the same shape other providers copied.
  api_key: { hints: ['sk-'], find: pattern('(?:^|[^A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}') },
  // Long-term (AKIA) and temporary (ASIA) access key ids.
  aws_access_key: {
    hints: ['AKIA', 'ASIA'],
    find: pattern('(?:^|[^A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?:[^A-Z0-9]|$)'),
  },
  private_key: { hints: ['PRIVATE KEY'], find: pattern('-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----') },
  bearer_token: {
    hints: ['bearer'],
    ignoreCase: true,
    find: pattern('(?i)bearer\\s+[A-Za-z0-9._~+/-]{16,}=*'),
  },
};

/** Says which detector found something in a JSON value (keys and values, at any depth), or null. */
export type SensitiveDataCheck = (value: unknown) => string | null;

/** The check made of the named built-in detectors and extra RE2 patterns (named `pattern:<n>` by position). */
export function sensitiveDataCheck(
  names: readonly SensitiveDetectorName[],
  patterns: readonly string[] = [],
): SensitiveDataCheck {
  const detectors: [string, Detector][] = [
    ...names.map((name): [string, Detector] => [name, DETECTORS[name]]),
    ...patterns.map((source, index): [string, Detector] => [`pattern:${index}`, { find: pattern(source) }]),
  ];
  const inText = (text: string): string | null => {
    let lower: string | undefined;
    for (const [name, detector] of detectors) {
      if (detector.hints) {
        const haystack = detector.ignoreCase ? (lower ??= text.toLowerCase()) : text;
        if (!detector.hints.some((hint) => haystack.includes(hint))) continue;
      }
      if (detector.find(text)) return name;
    }
    return null;
  };
  return (value) => {
    if (!detectors.length) return null;
    // Iterative, so that nesting depth cannot overflow the stack.
    const stack: unknown[] = [value];
    while (stack.length) {
      const item = stack.pop();
      if (typeof item === 'string') {
        const found = inText(item);
        if (found) return found;
      } else if (typeof item === 'number') {
        // A card number may well travel as a JSON number.
        if (Number.isInteger(item)) {
          const found = inText(String(item));
          if (found) return found;
        }
      } else if (Array.isArray(item)) {
        for (const element of item) stack.push(element);
      } else if (item !== null && typeof item === 'object') {
        for (const [key, element] of Object.entries(item)) stack.push(key, element);
      }
    }
    return null;
  };
}

/**
 * Whether the text holds a payment card number: 13 to 19 digits, alone or grouped by single spaces or dashes, that
 * start as the card networks' numbers do (2 to 6: Mastercard, Amex, Diners, JCB, Visa, Discover, UnionPay, Maestro)
 * and pass the Luhn check. A longer run of digits (an id) is not read as one, nor are parts of it: one random window
 * in ten would pass the check. Nor is a run starting with 1, such as a timestamp in milliseconds.
 */
export function containsCardNumber(text: string): boolean {
  const digits = new Uint8Array(19);
  let count = 0;
  let separated = false;
  const runIsCard = () =>
    count >= 13 &&
    count <= 19 &&
    (digits[0] as number) >= 2 &&
    (digits[0] as number) <= 6 &&
    luhnValid(digits.subarray(0, count));
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : -1;
    if (code >= 48 && code <= 57) {
      // Past 19 digits only the count matters: the run is too long to be a card.
      if (count < 19) digits[count] = code - 48;
      count++;
      separated = false;
      continue;
    }
    if (count === 0) continue;
    // One space or dash between digits continues the run (4111 1111 1111 1111, 4111-1111-1111-1111).
    const separator = code === 32 || code === 45;
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : -1;
    if (separator && !separated && next >= 48 && next <= 57) {
      separated = true;
      continue;
    }
    if (runIsCard()) return true;
    count = 0;
    separated = false;
  }
  return false;
}

/** The Luhn (mod 10) check digit test of payment card numbers. */
export function luhnValid(digits: ArrayLike<number>): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits[digits.length - 1 - i] as number;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return digits.length > 0 && sum % 10 === 0;
}
