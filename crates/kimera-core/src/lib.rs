//! The vocabulary of kimera, shared by every other crate.
//!
//! A *geoid* is one statement (text, language, where it came from); a *pair* is two
//! geoids with an optional gold label (from a labelled dataset); a *scar* is a recorded
//! contradiction between two geoids, with the detector that found it and why.
//! *Resonance* is the original Kimera similarity: cosine damped by scars.
//!
//! This crate does no IO and has few dependencies so that every other crate can use it.
//!
//! ```
//! use kimera_core::{GeoidId, normalise_text};
//! let a = GeoidId::from_text("The sky is  blue.", "en");
//! let b = GeoidId::from_text("the sky is blue", "en");
//! assert_eq!(a, b, "ids are stable under case, spacing and final punctuation");
//! assert_eq!(normalise_text("  Héllo   WORLD! "), "héllo world");
//! ```

mod geoid;
mod resonance;
pub mod settle;
mod time;
mod vector;

pub use geoid::{
    Geoid, GeoidId, GoldLabel, Pair, Scar, Source, dedupe_key, normalise_text, text_hash, unix_now,
};
pub use resonance::{ScarWeights, resonance};
pub use time::{format_time, parse_time};
pub use vector::{cosine, dot, l2_normalise};

/// `s` made safe to show on a terminal: control characters (a binary file's bytes,
/// an escape sequence, a stray carriage return) and the invisible characters that
/// reorder text (bidirectional overrides) are written as escapes (`\u{1b}`, `\r`);
/// everything else, any script, is kept as it is. Every excerpt of user input that
/// an error message quotes goes through it.
///
/// ```
/// assert_eq!(kimera_core::printable("a\u{1b}[31mb\0"), "a\\u{1b}[31mb\\0");
/// assert_eq!(kimera_core::printable("Été, القاهرة"), "Été, القاهرة");
/// ```
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    fn hidden(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}
