//! The rules one statement must pass, whatever brings it in: a row of a file, or a
//! request to the server. Each rule returns the cleaned value or why it was refused.

use crate::MAX_FIELD_BYTES;

/// A statement's text: surrounding whitespace trimmed; refused when blank or longer than
/// [`MAX_FIELD_BYTES`] (almost always a broken quote that swallowed the rest of a file).
pub fn clean_text(raw: &str) -> Result<&str, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Err("empty text".into());
    }
    if t.len() > MAX_FIELD_BYTES {
        return Err(format!(
            "text of {} bytes is over the {} byte limit",
            t.len(),
            MAX_FIELD_BYTES
        ));
    }
    Ok(t)
}

/// A language code: trimmed and lowercased (`EN` → `en`); `None` when blank (the caller's
/// default applies); refused unless it is at most 16 ASCII letters, digits, `-` or `_`.
pub fn clean_lang(raw: &str) -> Result<Option<String>, String> {
    let l = raw.trim();
    if l.is_empty() {
        return Ok(None);
    }
    if l.len() > 16
        || !l
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "`{}` is not a language code",
            kimera_core::printable(&trunc(l, 40))
        ));
    }
    Ok(Some(l.to_ascii_lowercase()))
}

/// The first `n` characters of `s`, with `…` when cut.
pub(crate) fn trunc(s: &str, n: usize) -> String {
    let mut t: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_languages_are_cleaned_or_refused_with_a_reason() {
        assert_eq!(clean_text("  Snow is white. \n"), Ok("Snow is white."));
        assert_eq!(clean_text(" \t "), Err("empty text".into()));
        let long = "x".repeat(MAX_FIELD_BYTES + 1);
        assert!(clean_text(&long).unwrap_err().contains("byte limit"));
        assert!(clean_text(&"x".repeat(MAX_FIELD_BYTES)).is_ok());
        assert_eq!(clean_lang(" EN "), Ok(Some("en".into())));
        assert_eq!(clean_lang(""), Ok(None));
        assert!(
            clean_lang("en glish")
                .unwrap_err()
                .contains("not a language code")
        );
        assert!(clean_lang(&"a".repeat(17)).is_err());
    }
}
