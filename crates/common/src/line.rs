//! Line numbers: normalisation (docs/api.md §1.8) and masking for logs (docs/architecture.md decision 9).

use std::fmt;

/// A mobile line number in its canonical 11-digit form (`01012345678`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineNumber(String);

impl LineNumber {
    /// Parses a line number given with or without dashes/spaces; requires `^010\d{8}$` after stripping.
    pub fn parse(input: &str) -> Option<Self> {
        let digits: String = input.chars().filter(|c| *c != '-' && *c != ' ').collect();
        let ok = digits.len() == 11
            && digits.starts_with("010")
            && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then_some(Self(digits))
    }

    /// The 11-digit form used in storage, cache keys and KOS calls.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The dashed display form `010-1234-5678` (auth service and bill menu output).
    pub fn dashed(&self) -> String {
        format!("{}-{}-{}", &self.0[..3], &self.0[3..7], &self.0[7..])
    }

    /// The masked form for logs and error details: `010****5678`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Debug never prints the number in clear: line numbers are personal data.
impl fmt::Debug for LineNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LineNumber({})", self.masked())
    }
}

/// Display is the masked form, so a line number interpolated into a log message stays masked.
impl fmt::Display for LineNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Masks any line-number-like text: keeps the first 3 and last 4 digits (`010****5678`).
pub fn mask(raw: &str) -> String {
    let digits: Vec<char> = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return "****".to_owned();
    }
    let head: String = digits[..3].iter().collect();
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// Rewrites every line number in `text` (`010` + 8 digits, optionally dashed as `010-XXXX-XXXX`)
/// into its masked form. Used by the log writer as a last line of defence.
pub fn mask_in_text(text: &str) -> std::borrow::Cow<'_, str> {
    let b = text.as_bytes();
    // Fast path: nothing that could start a line number.
    if !text.contains("010") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i + 3 <= b.len() {
        let starts = &b[i..i + 3] == b"010" && (i == 0 || !b[i - 1].is_ascii_digit());
        if starts && let Some(len) = match_line_at(&b[i..]) {
            let end = i + len;
            if end == b.len() || !b[end].is_ascii_digit() {
                out.push_str(&text[last..i]);
                out.push_str("010****");
                out.push_str(&text[end - 4..end]);
                last = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    if last == 0 {
        return std::borrow::Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    std::borrow::Cow::Owned(out)
}

/// Length of a line number starting at `b` (which starts with `010`), if any.
fn match_line_at(b: &[u8]) -> Option<usize> {
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if b.len() >= 11 && digits(&b[3..11]) {
        return Some(11);
    }
    if b.len() >= 13 && b[3] == b'-' && digits(&b[4..8]) && b[8] == b'-' && digits(&b[9..13]) {
        return Some(13);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dashed_and_plain() {
        assert_eq!(
            LineNumber::parse("010-1234-5678").map(|l| l.0),
            Some("01012345678".into())
        );
        assert_eq!(
            LineNumber::parse("01012345678").map(|l| l.dashed()),
            Some("010-1234-5678".into())
        );
        assert!(LineNumber::parse("0111234567").is_none());
        assert!(LineNumber::parse("011-1234-5678").is_none());
        assert!(LineNumber::parse("010123456789").is_none());
        assert!(LineNumber::parse("010-1234-567a").is_none());
    }

    #[test]
    fn masks_everywhere() {
        let l = LineNumber::parse("01012345678").expect("valid");
        assert_eq!(l.masked(), "010****5678");
        assert_eq!(format!("{l} {l:?}"), "010****5678 LineNumber(010****5678)");
        assert_eq!(
            mask_in_text(r#"{"line":"01012345678","d":"010-9876-5432","n":"2010123456789"}"#),
            r#"{"line":"010****5678","d":"010****5432","n":"2010123456789"}"#
        );
        assert_eq!(mask_in_text("no numbers 010 here"), "no numbers 010 here");
    }
}
