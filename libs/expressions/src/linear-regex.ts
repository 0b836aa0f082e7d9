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
 * null if it compiles: what LinearRegExp would throw when the expression runs.
 */
export function linearRegexRefusal(regex: RegExp): string | null {
  try {
    compile(regex);
    return null;
  } catch (error) {
    return (error instanceof Error ? error.message : String(error)).replace(/^error parsing regexp: /, '');
  }
}

function compile(regex: RegExp): RE2JS {
  const key = `${regex.flags}/${regex.source}`;
  let pattern = compiled.get(key);
  if (!pattern) {
    // jsonata allows the flags i and m (and adds g); RE2's defaults otherwise match JavaScript's (`.` stops at \n).
    const flags = (regex.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0) | (regex.multiline ? RE2JS.MULTILINE : 0);
    pattern = RE2JS.compile(RE2JS.translateRegExp(regex.source), flags);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(key, pattern);
  }
  return pattern;
}
