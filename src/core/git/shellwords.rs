//! Splitting a command line into words the way a POSIX shell would, without expanding
//! anything: single quotes, double quotes (with `\"`, `\\`, `\$`, `` \` `` escapes) and
//! backslashes. Used for `gitsign.urlOpener` (gitsign splits it shell-style and runs no shell)
//! and for the `git -c` values git passes in `GIT_CONFIG_PARAMETERS` (shell-quoted).

/// The words of `line`, or why it cannot be split (an unterminated quote, a trailing
/// backslash).
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(q) => cur.push(q),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(q) => cur.push(q),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => return Err("trailing backslash".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_like_a_shell_without_expanding() {
        assert_eq!(
            split("a  'b c' \"d \\\"e\" f\\ g").unwrap(),
            ["a", "b c", "d \"e", "f g"]
        );
        assert_eq!(
            split("'gitsign.rekor'='http://x' 'it'\\''s'").unwrap(),
            ["gitsign.rekor=http://x", "it's"]
        );
        assert_eq!(split("$HOME").unwrap(), ["$HOME"]);
        assert!(split("'open").is_err());
        assert!(split("a\\").is_err());
        assert!(split("").unwrap().is_empty());
    }
}
