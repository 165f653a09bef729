//! Geoids, pairs, scars and their identifiers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable identifier of a geoid.
///
/// When the input names a statement (`id` column, JSON `id` field) that name is kept;
/// otherwise the id is derived from the normalised text and the language, so ingesting
/// the same statement twice, from any file, gives the same id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GeoidId(pub String);

impl GeoidId {
    /// The derived id: `g` followed by 16 hex digits of BLAKE3 over
    /// `normalise(text) \0 lang`.
    pub fn from_text(text: &str, lang: &str) -> Self {
        Self::from_key(&dedupe_key(text, lang))
    }

    /// The derived id of a statement whose [`dedupe_key`] is `key`.
    pub fn from_key(key: &[u8; 32]) -> Self {
        GeoidId(format!("g{}", hex::encode(&key[..8])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GeoidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for GeoidId {
    fn from(s: &str) -> Self {
        GeoidId(s.to_owned())
    }
}

/// Normalises a statement for identity and de-duplication: Unicode lowercase,
/// whitespace runs collapsed to one space, trimmed, and trailing sentence punctuation
/// (`.`, `!`, `?`, `。`, `؟`) removed. Everything else — accents, Arabic script,
/// emoji — is kept as is, so different statements never collapse into one.
pub fn normalise_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            out.extend(c.to_lowercase());
        }
    }
    while let Some(last) = out.chars().last() {
        if matches!(last, '.' | '!' | '?' | '。' | '؟' | ' ') {
            out.pop();
        } else {
            break;
        }
    }
    out
}

/// Key used to store a statement once: BLAKE3 of `normalise(text) \0 lang`.
pub fn dedupe_key(text: &str, lang: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(normalise_text(text).as_bytes());
    h.update(b"\0");
    h.update(lang.as_bytes());
    *h.finalize().as_bytes()
}

/// Hash of the *exact* text (no normalisation): the key of the embedding cache, since
/// the model sees case and punctuation.
pub fn text_hash(text: &str) -> [u8; 32] {
    *blake3::hash(text.as_bytes()).as_bytes()
}

/// Where a geoid came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A line of an input file (1-based; for CSV the physical line the record starts on).
    File { path: String, line: u64 },
    /// Added through the API or the command line.
    Api,
    /// Added through the API by a client that named where it came from (a request's
    /// `source`); shown as `api:<name>`.
    Client(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File { path, line } => write!(f, "{path}:{line}"),
            Source::Api => f.write_str("api"),
            Source::Client(name) => write!(f, "api:{name}"),
        }
    }
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geoid {
    pub id: GeoidId,
    pub text: String,
    /// ISO 639-1 code where known (`en`, `fr`, `ar`...), `und` when unknown.
    pub lang: String,
    pub source: Source,
    /// An id the input gave (kept even when it is also used as `id`).
    pub external_id: Option<String>,
    /// A label field kept from the input (e.g. `label_contradict_id`).
    pub label: Option<String>,
    /// Seconds since the Unix epoch: when the statement was recorded (the store's
    /// `recorded_at`).
    pub created_at: i64,
    /// Since when the statement holds (seconds since the epoch), when the input said:
    /// the `recency` strategy prefers it to `created_at`, and two statements whose
    /// validity intervals do not overlap are both valid (at different times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<i64>,
    /// Until when the statement holds (exclusive), when the input said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<i64>,
    /// [`dedupe_key`] of `text` and `lang`, computed once at construction (a bulk
    /// ingest computes it on the parsing thread, not the writing one). Call
    /// [`Geoid::rekey`] after changing `text` or `lang`.
    #[serde(skip)]
    pub key: [u8; 32],
    /// [`text_hash`] of `text`, likewise.
    #[serde(skip)]
    pub text_hash: [u8; 32],
}

impl Geoid {
    /// A geoid with a derived id (or the given external id), created now.
    pub fn new(text: impl Into<String>, lang: impl Into<String>, source: Source) -> Self {
        let text = text.into();
        let lang = lang.into();
        let key = dedupe_key(&text, &lang);
        Geoid {
            id: GeoidId::from_key(&key),
            text_hash: text_hash(&text),
            key,
            text,
            lang,
            source,
            external_id: None,
            label: None,
            created_at: unix_now(),
            valid_from: None,
            valid_to: None,
        }
    }

    /// Recomputes `key` and `text_hash` after `text` or `lang` changed (the id is kept).
    pub fn rekey(&mut self) {
        self.key = dedupe_key(&self.text, &self.lang);
        self.text_hash = text_hash(&self.text);
    }

    /// Uses `external` as the id (and keeps it as `external_id`).
    pub fn with_external_id(mut self, external: impl Into<String>) -> Self {
        let external = external.into();
        self.id = GeoidId(external.clone());
        self.external_id = Some(external);
        self
    }

    /// Sets when the statement holds (`valid_from`, `valid_to`; seconds since the epoch).
    pub fn with_validity(mut self, from: Option<i64>, to: Option<i64>) -> Self {
        self.valid_from = from;
        self.valid_to = to;
        self
    }

    pub fn with_label(mut self, label: Option<String>) -> Self {
        self.label = label;
        self
    }

    /// The de-duplication key of this geoid's text and language.
    pub fn dedupe_key(&self) -> [u8; 32] {
        self.key
    }
}

/// Gold label of a labelled pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GoldLabel {
    Contradiction,
    Entailment,
    Neutral,
}

impl GoldLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            GoldLabel::Contradiction => "contradiction",
            GoldLabel::Entailment => "entailment",
            GoldLabel::Neutral => "neutral",
        }
    }

    /// Parses the labels used by the supported datasets: SICK's
    /// `CONTRADICTION`/`ENTAILMENT`/`NEUTRAL`, Kimera's `True`/`False`
    /// (True = contradiction) and `1`/`0`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "contradiction" | "true" | "1" | "yes" | "contradict" => Some(GoldLabel::Contradiction),
            "entailment" => Some(GoldLabel::Entailment),
            "neutral" | "false" | "0" | "no" => Some(GoldLabel::Neutral),
            _ => None,
        }
    }

    pub fn is_contradiction(self) -> bool {
        self == GoldLabel::Contradiction
    }
}

/// Two geoids, optionally with a gold label, as stored by ingest for benchmarks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// The dataset's pair id where it has one.
    pub pair_id: Option<String>,
    pub a: GeoidId,
    pub b: GeoidId,
    pub gold: Option<GoldLabel>,
    pub lang: Option<String>,
    /// The dataset's own pair type (e.g. Kimera's `contradiction`/`neutral`).
    pub kind: Option<String>,
    pub source: Source,
}

/// A recorded contradiction between two geoids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scar {
    /// The smaller id of the pair (pairs are unordered; `a < b` always).
    pub a: GeoidId,
    pub b: GeoidId,
    /// Strength of the contradiction in 0..=1; also the scar's weight in resonance.
    pub score: f32,
    pub detector: String,
    /// Why: rule, tokens, probability... as JSON.
    pub evidence: serde_json::Value,
    pub created_at: i64,
}

impl Scar {
    /// Builds a scar with the pair put in canonical order (`a < b`).
    pub fn new(
        x: GeoidId,
        y: GeoidId,
        score: f32,
        detector: impl Into<String>,
        evidence: serde_json::Value,
    ) -> Self {
        let (a, b) = if x <= y { (x, y) } else { (y, x) };
        Scar {
            a,
            b,
            score: score.clamp(0.0, 1.0),
            detector: detector.into(),
            evidence,
            created_at: unix_now(),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_keeps_scripts_and_drops_noise() {
        assert_eq!(normalise_text("Le  chat est ASSIS."), "le chat est assis");
        assert_eq!(normalise_text("الأرض مسطحة؟"), "الأرض مسطحة");
        assert_eq!(normalise_text("Fire 🔥 is hot!!"), "fire 🔥 is hot");
        assert_eq!(normalise_text("   "), "");
    }

    #[test]
    fn derived_ids_depend_on_language_and_meaningful_text() {
        let en = GeoidId::from_text("Snow is white", "en");
        assert_eq!(en, GeoidId::from_text("snow is white.", "en"));
        assert_ne!(en, GeoidId::from_text("Snow is white", "fr"));
        assert_ne!(en, GeoidId::from_text("Snow is black", "en"));
        assert_eq!(en.as_str().len(), 17);
    }

    #[test]
    fn scars_are_unordered_pairs() {
        let s = Scar::new("b".into(), "a".into(), 1.5, "x", serde_json::json!({}));
        assert_eq!((s.a.as_str(), s.b.as_str(), s.score), ("a", "b", 1.0));
    }

    #[test]
    fn gold_labels_parse_all_dataset_spellings() {
        assert_eq!(
            GoldLabel::parse("CONTRADICTION"),
            Some(GoldLabel::Contradiction)
        );
        assert_eq!(GoldLabel::parse("True"), Some(GoldLabel::Contradiction));
        assert_eq!(GoldLabel::parse("False"), Some(GoldLabel::Neutral));
        assert_eq!(GoldLabel::parse("ENTAILMENT"), Some(GoldLabel::Entailment));
        assert_eq!(GoldLabel::parse("maybe"), None);
    }
}
