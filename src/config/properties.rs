//! Java `.properties` text, read as `java.util.Properties.load` reads it: worker files and the
//! files behind `${file:PATH:KEY}` are written for Java, and a JAAS line continued with `\` or a
//! password with an escaped `=` must mean the same here.

use std::collections::BTreeMap;
use std::path::Path;

/// Reads a properties file.
pub fn read_properties(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(parse_properties(&text))
}

/// Parses properties text: `#`/`!` comment lines, logical lines continued by an odd number of
/// trailing backslashes (the next line's leading blanks dropped), the key ending at the first
/// unescaped `=`, `:` or blank, escapes `\t \n \r \f \uXXXX` and `\x` for any other `x`.
/// Values keep trailing blanks, as in Java; a repeated key keeps its last value.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let first = first.trim_start_matches(is_blank);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::from(first);
        while continues(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start_matches(is_blank)),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        out.insert(unescape(key), unescape(value));
    }
    out
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

/// Whether a line ends with an odd number of backslashes (an escaped line end).
fn continues(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits a logical line at its separator: the first unescaped `=`, `:` or blank, with blanks
/// around it and at most one `=`/`:` after blanks skipped.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_blank(c) {
            end = i;
            break;
        }
    }
    let key = &line[..end];
    let mut rest = line[end..].trim_start_matches(is_blank);
    if let Some(after) = rest.strip_prefix(['=', ':']) {
        rest = after.trim_start_matches(is_blank);
    }
    (key, rest)
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == 4 => {
                        out.push(decoded);
                        chars.nth(3);
                    }
                    // Java refuses a malformed \u escape; keep the text rather than fail.
                    _ => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_properties_grammar() {
        let text = "# comment\n  ! also a comment\n\n\
                    a=1\n b : 2 \nc 3\nd\\=x=4\n\
                    sasl.jaas.config=org.Module required \\\n    username=\"u\" \\\n    password=\"p\";\n\
                    tab=x\\ty\nuni=\\u00e9t\\u00E9\nempty=\nodd=ends\\\\\nnext=5\n";
        let p = parse_properties(text);
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2 ", "trailing blanks are kept");
        assert_eq!(p["c"], "3");
        assert_eq!(p["d=x"], "4");
        assert_eq!(
            p["sasl.jaas.config"],
            "org.Module required username=\"u\" password=\"p\";"
        );
        assert_eq!(p["tab"], "x\ty");
        assert_eq!(p["uni"], "été");
        assert_eq!(p["empty"], "");
        assert_eq!(
            p["odd"], "ends\\",
            "an even number of backslashes ends the line"
        );
        assert_eq!(p["next"], "5");
        assert_eq!(p.len(), 10, "{p:?}");
    }
}
