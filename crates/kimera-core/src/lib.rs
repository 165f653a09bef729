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
mod vector;

pub use geoid::{
    Geoid, GeoidId, GoldLabel, Pair, Scar, Source, dedupe_key, normalise_text, text_hash, unix_now,
};
pub use resonance::{ScarWeights, resonance};
pub use vector::{cosine, dot, l2_normalise};
