//! git's `wildmatch` (wildmatch.c) with `WM_PATHNAME`, the only way `includeIf` conditions
//! use it (`gitdir:`, `gitdir/i:` adding `WM_CASEFOLD`, `onbranch:`,
//! `hasconfig:remote.*.url:`). A line-by-line port over bytes, quirks included:
//!
//! - `*` and `?` never match `/`; neither does a bracket expression;
//! - `**` is special only as a whole path component (`**/`, `/**/`, `/**` or all of it):
//!   then it matches any number of components, else it is `*`;
//! - `[...]` takes `!` or `^` to negate, ranges, `\` escapes and `[:class:]`; a `]` first
//!   is literal;
//! - `\` quotes the next byte;
//! - case folding (ASCII only) folds the text and plain pattern bytes, but not bytes after
//!   `\` or inside a bracket expression (ranges also try the text upper-cased), as in git.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum M {
    Match,
    NoMatch,
    AbortAll,
    AbortToStarStar,
}

/// Whether `text` matches `pattern` (`WM_PATHNAME`, plus `WM_CASEFOLD` when `icase`).
pub fn matches(pattern: &str, text: &str, icase: bool) -> bool {
    dowild(pattern.as_bytes(), text.as_bytes(), icase) == M::Match
}

/// The byte at `i`, or 0 past the end (C's terminating NUL).
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

fn is_glob_special(c: u8) -> bool {
    matches!(c, b'*' | b'?' | b'[' | b'\\')
}

fn fold(c: u8, icase: bool) -> u8 {
    if icase { c.to_ascii_lowercase() } else { c }
}

/// A `[:name:]` class: `None` for a name git does not know.
fn in_class(name: &[u8], c: u8, icase: bool) -> Option<bool> {
    Some(match name {
        b"alnum" => c.is_ascii_alphanumeric(),
        b"alpha" => c.is_ascii_alphabetic(),
        b"blank" => c == b' ' || c == b'\t',
        b"cntrl" => c.is_ascii_control(),
        b"digit" => c.is_ascii_digit(),
        b"graph" => c.is_ascii_graphic(),
        b"lower" => c.is_ascii_lowercase(),
        b"print" => c.is_ascii_graphic() || c == b' ',
        b"punct" => c.is_ascii_punctuation(),
        b"space" => matches!(c, b' ' | b'\t' | b'\n' | b'\r'),
        b"upper" => c.is_ascii_uppercase() || (icase && c.is_ascii_lowercase()),
        b"xdigit" => c.is_ascii_hexdigit(),
        _ => return None,
    })
}

fn dowild(pat: &[u8], text: &[u8], icase: bool) -> M {
    let (mut p, mut t) = (0usize, 0usize);
    while at(pat, p) != 0 {
        let mut t_ch = at(text, t);
        let p_ch = at(pat, p);
        if t_ch == 0 && p_ch != b'*' {
            return M::AbortAll;
        }
        t_ch = fold(t_ch, icase);
        let p_ch = fold(p_ch, icase);
        match p_ch {
            b'?' => {
                if t_ch == b'/' {
                    return M::NoMatch;
                }
            }
            b'*' => {
                p += 1;
                let match_slash = if at(pat, p) == b'*' {
                    // What stands before the first `*`: nothing or a slash.
                    let whole_component = p < 2 || pat[p - 2] == b'/';
                    while at(pat, p) == b'*' {
                        p += 1;
                    }
                    let next = at(pat, p);
                    if whole_component
                        && (next == 0 || next == b'/' || (next == b'\\' && at(pat, p + 1) == b'/'))
                    {
                        // `**/` may match nothing: try the rest right here first.
                        if next == b'/' && dowild(&pat[p + 1..], &text[t..], icase) == M::Match {
                            return M::Match;
                        }
                        true
                    } else {
                        false
                    }
                } else {
                    false
                };
                if at(pat, p) == 0 {
                    // A trailing `**` matches everything, a trailing `*` what has no slash.
                    if !match_slash && text[t..].contains(&b'/') {
                        return M::NoMatch;
                    }
                    return M::Match;
                } else if !match_slash && at(pat, p) == b'/' {
                    // One `*` and a slash: skip to the next slash in the text.
                    match text[t..].iter().position(|&c| c == b'/') {
                        None => return M::NoMatch,
                        Some(k) => t += k,
                    }
                    p += 1;
                    t += 1;
                    continue;
                }
                loop {
                    if t_ch == 0 {
                        break;
                    }
                    // A literal next: skip text up to it (never past a slash for `*`).
                    if !is_glob_special(at(pat, p)) {
                        let want = fold(at(pat, p), icase);
                        loop {
                            t_ch = at(text, t);
                            if t_ch == 0 || (!match_slash && t_ch == b'/') {
                                break;
                            }
                            t_ch = fold(t_ch, icase);
                            if t_ch == want {
                                break;
                            }
                            t += 1;
                        }
                        if t_ch != want {
                            return if match_slash {
                                M::AbortAll
                            } else {
                                M::AbortToStarStar
                            };
                        }
                    }
                    let matched = dowild(&pat[p..], &text[t..], icase);
                    if matched != M::NoMatch {
                        if !match_slash || matched != M::AbortToStarStar {
                            return matched;
                        }
                    } else if !match_slash && t_ch == b'/' {
                        return M::AbortToStarStar;
                    }
                    t += 1;
                    t_ch = at(text, t);
                }
                return M::AbortAll;
            }
            b'[' => {
                p += 1;
                let mut c = at(pat, p);
                let negated = c == b'!' || c == b'^';
                if negated {
                    p += 1;
                    c = at(pat, p);
                }
                let mut prev: u8 = 0;
                let mut matched = false;
                loop {
                    if c == 0 {
                        return M::AbortAll;
                    }
                    if c == b'\\' {
                        p += 1;
                        c = at(pat, p);
                        if c == 0 {
                            return M::AbortAll;
                        }
                        if t_ch == c {
                            matched = true;
                        }
                    } else if c == b'-'
                        && prev != 0
                        && at(pat, p + 1) != 0
                        && at(pat, p + 1) != b']'
                    {
                        p += 1;
                        c = at(pat, p);
                        if c == b'\\' {
                            p += 1;
                            c = at(pat, p);
                            if c == 0 {
                                return M::AbortAll;
                            }
                        }
                        if prev <= t_ch && t_ch <= c {
                            matched = true;
                        } else if icase && t_ch.is_ascii_lowercase() {
                            let upper = t_ch.to_ascii_uppercase();
                            if prev <= upper && upper <= c {
                                matched = true;
                            }
                        }
                        c = 0; // no range may start at a range's end
                    } else if c == b'[' && at(pat, p + 1) == b':' {
                        let start = p + 2;
                        let mut end = start;
                        while at(pat, end) != 0 && at(pat, end) != b']' {
                            end += 1;
                        }
                        if at(pat, end) == 0 {
                            return M::AbortAll;
                        }
                        if end < start + 1 || pat[end - 1] != b':' {
                            // No `:]`: a plain `[` in the set.
                            if t_ch == b'[' {
                                matched = true;
                            }
                            // `c` stays `[`; go on after it.
                        } else {
                            p = end;
                            match in_class(&pat[start..end - 1], t_ch, icase) {
                                Some(true) => matched = true,
                                Some(false) => {}
                                None => return M::AbortAll,
                            }
                            c = 0;
                        }
                    } else if t_ch == c {
                        matched = true;
                    }
                    prev = c;
                    p += 1;
                    c = at(pat, p);
                    if c == b']' {
                        break;
                    }
                }
                if matched == negated || t_ch == b'/' {
                    return M::NoMatch;
                }
            }
            b'\\' => {
                // The next byte literally (not case-folded); a trailing `\` matches nothing.
                p += 1;
                if t_ch != at(pat, p) {
                    return M::NoMatch;
                }
            }
            _ => {
                if t_ch != p_ch {
                    return M::NoMatch;
                }
            }
        }
        p += 1;
        t += 1;
    }
    if t < text.len() && text[t] != 0 {
        M::NoMatch
    } else {
        M::Match
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    /// Cases from git's t/t3070-wildmatch.sh, its `wildmatch` (WM_PATHNAME) column.
    const CASES: &[(bool, &str, &str)] = &[
        (true, "foo", "foo"),
        (false, "bar", "foo"),
        (true, "", ""),
        (true, "???", "foo"),
        (false, "??", "foo"),
        (true, "*", "foo"),
        (true, "f*", "foo"),
        (false, "*f", "foo"),
        (true, "*foo*", "foo"),
        (true, "*ob*a*r*", "foobar"),
        (true, "*ab", "aaaaaaabababab"),
        (true, "foo\\*", "foo*"),
        (false, "foo\\*bar", "foobar"),
        (true, "f\\\\oo", "f\\oo"),
        (true, "*[al]?", "ball"),
        (false, "[ten]", "ten"),
        (true, "**[!te]", "ten"),
        (false, "**[!ten]", "ten"),
        (true, "t[a-g]n", "ten"),
        (false, "t[!a-g]n", "ten"),
        (true, "t[!a-g]n", "ton"),
        (true, "t[^a-g]n", "ton"),
        (true, "a[]]b", "a]b"),
        (true, "a[]-]b", "a-b"),
        (true, "a[]-]b", "a]b"),
        (false, "a[]-]b", "aab"),
        (true, "a[]a-]b", "aab"),
        (true, "]", "]"),
        (false, "foo*bar", "foo/baz/bar"),
        (false, "foo**bar", "foo/baz/bar"),
        (true, "foo**bar", "foobazbar"),
        (true, "foo/**/bar", "foo/baz/bar"),
        (true, "foo/**/**/bar", "foo/baz/bar"),
        (true, "foo/**/bar", "foo/b/a/z/bar"),
        (true, "foo/**/**/bar", "foo/b/a/z/bar"),
        (true, "foo/**/bar", "foo/bar"),
        (true, "foo/**/**/bar", "foo/bar"),
        (false, "foo?bar", "foo/bar"),
        (false, "foo[/]bar", "foo/bar"),
        (false, "foo[^a-z]bar", "foo/bar"),
        (false, "f[^eiu][^eiu][^eiu][^eiu][^eiu]r", "foo/bar"),
        (true, "f[^eiu][^eiu][^eiu][^eiu][^eiu]r", "foo-bar"),
        (true, "**/foo", "foo"),
        (true, "**/foo", "XXX/foo"),
        (true, "**/foo", "bar/baz/foo"),
        (false, "*/foo", "bar/baz/foo"),
        (false, "**/bar*", "foo/bar/baz"),
        (true, "**/bar/*", "deep/foo/bar/baz"),
        (false, "**/bar/*", "deep/foo/bar/baz/"),
        (true, "**/bar/**", "deep/foo/bar/baz/"),
        (false, "**/bar/*", "deep/foo/bar"),
        (true, "**/bar/**", "deep/foo/bar/"),
        (false, "**/bar**", "foo/bar/baz"),
        (true, "*/bar/**", "foo/bar/baz/x"),
        (false, "*/bar/**", "deep/foo/bar/baz/x"),
        (true, "**/bar/*/*", "deep/foo/bar/baz/x"),
        (false, "a[c-c]st", "acrt"),
        (true, "a[c-c]rt", "acrt"),
        (false, "[!]-]", "]"),
        (true, "[!]-]", "a"),
        (false, "\\", ""),
        (false, "\\", "\\"),
        (false, "*/\\", "XXX/\\"),
        (true, "*/\\\\", "XXX/\\"),
        (true, "@foo", "@foo"),
        (false, "@foo", "foo"),
        (true, "\\[ab]", "[ab]"),
        (true, "[[]ab]", "[ab]"),
        (true, "[[:]ab]", "[ab]"),
        (false, "[[::]ab]", "[ab]"),
        (true, "[[:digit]ab]", "[ab]"),
        (true, "[\\[:]ab]", "[ab]"),
        (true, "\\??\\?b", "?a?b"),
        (true, "\\a\\b\\c", "abc"),
        (true, "**/t[o]", "foo/bar/baz/to"),
        (true, "[[:alpha:]][[:digit:]][[:upper:]]", "a1B"),
        (false, "[[:digit:][:upper:][:space:]]", "a"),
        (true, "[[:digit:][:upper:][:space:]]", "A"),
        (true, "[[:digit:][:upper:][:space:]]", "1"),
        (true, "[[:digit:][:upper:][:space:]]", " "),
        (false, "[[:digit:][:upper:][:spaci:]]", "1"),
        (true, "[[:xdigit:]]", "5"),
        (true, "[[:xdigit:]]", "f"),
        (true, "[a-c[:digit:]x-z]", "5"),
        (false, "[a-c[:digit:]x-z]", "q"),
        (
            true,
            "-*-*-*-*-*-*-12-*-*-*-m-*-*-*",
            "-adobe-courier-bold-o-normal--12-120-75-75-m-70-iso8859-1",
        ),
        (
            false,
            "-*-*-*-*-*-*-12-*-*-*-m-*-*-*",
            "-adobe-courier-bold-o-normal--12-120-75-75-X-70-iso8859-1",
        ),
        (
            true,
            "XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*",
            "XXX/adobe/courier/bold/o/normal//12/120/75/75/m/70/iso8859/1",
        ),
        (
            true,
            "**/*a*b*g*n*t",
            "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txt",
        ),
        (
            false,
            "**/*a*b*g*n*t",
            "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txtz",
        ),
        (true, "*/*/*", "foo/bba/arr"),
        (false, "*/*/*", "foo/bb/aa/rr"),
        (true, "**/**/**", "foo/bb/aa/rr"),
        (true, "*X*i", "abcXdefXghi"),
        (false, "*X*i", "ab/cXd/efXg/hi"),
        (true, "*/*X*/*/*i", "ab/cXd/efXg/hi"),
        (true, "**/*X*/**/*i", "ab/cXd/efXg/hi"),
    ];

    #[test]
    fn wildmatch_agrees_with_gits_own_test_table() {
        for &(want, pattern, text) in CASES {
            assert_eq!(matches(pattern, text, false), want, "{pattern:?} {text:?}");
        }
    }

    #[test]
    fn include_if_shapes_match_as_git_matches_them() {
        // What `gitdir:repo/` becomes, and absolute and `~`-expanded patterns.
        assert!(matches("**/repo/**", "/tmp/x/repo/.git", false));
        assert!(!matches("**/repo/**", "/tmp/x/myrepo/.git", false));
        assert!(matches("/home/u/**", "/home/u/a/b/.git", false));
        assert!(matches("/home/*/repo/.git", "/home/u/repo/.git", false));
        assert!(!matches("/home/*/.git", "/home/u/repo/.git", false));
        // `onbranch:feat/` becomes `feat/**`.
        assert!(matches("feat/**", "feat/x/y", false));
        assert!(!matches("feat/*", "feat/x/y", false));
        // `hasconfig:remote.*.url:`: `*` stops at slashes in URLs too.
        assert!(matches(
            "https://github.com/org/**",
            "https://github.com/org/r",
            false
        ));
        assert!(!matches(
            "https://github.com/*",
            "https://github.com/org/r",
            false
        ));
    }

    #[test]
    fn case_folding_is_ascii_and_spares_escapes_and_brackets_as_in_git() {
        assert!(matches("/HOME/U/**", "/home/u/r/.git", true));
        assert!(!matches("/HOME/U/**", "/home/u/r/.git", false));
        assert!(matches("[A-Z]", "a", true));
        assert!(matches("[[:upper:]]", "a", true));
        assert!(!matches("[[:upper:]]", "a", false));
        // git folds neither an escaped byte nor a lone bracket member.
        assert!(!matches("\\A", "a", true));
        assert!(!matches("[A]", "a", true));
        // Only ASCII folds.
        assert!(!matches("É", "é", true));
    }
}
