import { RE2JS } from 're2js';

/** Compiled patterns by flags and source: jsonata builds a new engine every time a regex literal is evaluated. */
const compiled = new Map<string, RE2JS>();
const MAX_COMPILED = 1_000;

/**
 * The part of RegExp that jsonata's regex functions use (`exec` from `lastIndex`, as with the `g` flag jsonata always
 * sets), on RE2's automaton: matching takes time linear in the input, so a pattern such as `(x+x+)+y` cannot
 * backtrack for hours. RE2 has no backreferences or lookahead; such a pattern fails to compile, which the expression
 * reports as its error.
 *
 * Why re2js: it is RE2 ported to plain JavaScript, so it installs from npm alone and runs in any worker thread. The
 * native `re2` binding downloads a prebuilt binary from GitHub at install time or compiles RE2 and abseil with
 * node-gyp, which is minutes of C++ on every fresh install and a compiler on every machine; `re2-wasm` has had no
 * release since 2021 and accepts only `u`-flag (Unicode) patterns.
 */
export class LinearRegExp {
  lastIndex = 0;
  private readonly pattern: RE2JS;

  constructor(regex: RegExp) {
    this.pattern = compile(regex);
  }

  exec(text: string): RegExpExecArray | null {
    const matcher = this.pattern.matcher(text);
    if (this.lastIndex > text.length || !matcher.find(this.lastIndex)) {
      this.lastIndex = 0;
      return null;
    }
    const groups: (string | undefined)[] = [];
    for (let group = 0; group <= matcher.groupCount(); group++) groups.push(matcher.group(group) ?? undefined);
    this.lastIndex = matcher.end();
    return Object.assign(groups, { index: matcher.start(), input: text }) as unknown as RegExpExecArray;
  }
}

/**
 * Why the linear engine refuses `regex` (RE2 syntax: no backreferences or lookarounds, repeat counts up to 1000), or
 * null if it compiles: what LinearRegExp would throw when the expression runs. The pattern is compiled as it would be
 * then, but not kept: this check runs where nothing is evaluated, and a compiled pattern can take megabytes.
 */
export function linearRegexRefusal(regex: RegExp): string | null {
  try {
    build(regex);
    return null;
  } catch (error) {
    return (error instanceof Error ? error.message : String(error)).replace(/^error parsing regexp: /, '');
  }
}

/**
 * An upper bound on how many atoms the linear engine expands `regex` into, from its text alone: what compiling it
 * costs, and so what checking it with linearRegexRefusal costs. A counted repeat is compiled as copies of what it
 * repeats (`/a{0,1000}/` becomes a thousand nested copies, some 4 ms of compiling; nested repeats up to 1000 copies
 * in all), so a few characters can cost seconds. Each character counts once; every `{n}`, `{n,}` and `{n,m}` in the
 * text counts as a repeat (one that is not, such as `\{9}`, only raises the bound) of one atom, or after `)` of a
 * group, taken to be all the text before it.
 */
export function expandedSizeBound(regex: RegExp): number {
  const source = regex.source;
  let size = 0;
  let from = 0;
  for (const repeat of source.matchAll(/\{(\d+)(,(\d*))?\}/g)) {
    const [text, min = '', comma, max = ''] = repeat;
    size += repeat.index - from;
    // `{n,}` is n copies and a star; `{n,m}` m copies, the last m - n optional.
    const copies =
      comma === undefined ? Number(min) : max === '' ? Number(min) + 1 : Math.max(Number(min), Number(max));
    size = source[repeat.index - 1] === ')' ? size * Math.max(copies, 1) : size + copies;
    from = repeat.index + text.length;
  }
  return size + source.length - from;
}

function compile(regex: RegExp): RE2JS {
  const key = `${regex.flags}/${regex.source}`;
  let pattern = compiled.get(key);
  if (!pattern) {
    pattern = build(regex);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(key, pattern);
  }
  return pattern;
}

function build(regex: RegExp): RE2JS {
  // jsonata allows the flags i and m (and adds g); RE2's defaults otherwise match JavaScript's (`.` stops at \n).
  const flags = (regex.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0) | (regex.multiline ? RE2JS.MULTILINE : 0);
  return RE2JS.compile(RE2JS.translateRegExp(regex.source), flags);
}
