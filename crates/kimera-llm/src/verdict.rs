//! The judge's prompt and the parsing of its answer into a [`Verdict`].
//!
//! Models are asked for a JSON object, and most comply; some wrap it in a Markdown fence,
//! some break the JSON, and some answer in prose. The parser tries, in order: the whole
//! answer as JSON, the first `{...}` object inside it, the verdict fields picked out of
//! broken JSON, and finally the wording of a prose answer. Only an answer that says
//! nothing decidable is an error.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Version of the prompt below; part of the response-cache key, so changing the prompt
/// must change this.
pub const PROMPT_VERSION: &str = "judge-v1";

pub(crate) const SYSTEM_PROMPT: &str = "You judge whether two statements contradict each other: \
they contradict when both cannot be true of the same situation. Answer with one JSON object \
and nothing else: {\"contradiction\": true or false, \"confidence\": a number from 0 to 1, \
\"reasoning\": \"one short sentence\"}.";

/// The user message for a pair. The fake test server parses this exact layout.
pub fn user_prompt(a: &str, b: &str) -> String {
    format!("Statement A: {a}\nStatement B: {b}")
}

/// The judge's decision on one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub contradiction: bool,
    /// In 0..=1 (values the model gives outside that range are clamped; a missing one is 0.5).
    pub confidence: f32,
    pub reasoning: String,
    /// How the answer was read: `json`, `lenient` (fields picked from broken JSON) or `prose`.
    pub parsed_from: ParsedFrom,
}

/// How an answer was turned into a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParsedFrom {
    Json,
    Lenient,
    Prose,
}

impl ParsedFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            ParsedFrom::Json => "json",
            ParsedFrom::Lenient => "lenient",
            ParsedFrom::Prose => "prose",
        }
    }
}

#[derive(Deserialize)]
struct RawVerdict {
    contradiction: serde_json::Value,
    #[serde(default)]
    confidence: Option<serde_json::Value>,
    #[serde(default)]
    reasoning: Option<serde_json::Value>,
}

const DEFAULT_CONFIDENCE: f32 = 0.5;

/// Reads a model's answer. `Err` carries a short reason when nothing decidable is found.
pub fn parse_verdict(answer: &str) -> Result<Verdict, String> {
    let text = answer.trim();
    if text.is_empty() {
        return Err("empty answer".into());
    }
    if let Some(v) = from_json(text) {
        return Ok(v);
    }
    if let Some(obj) = first_json_object(text) {
        if let Some(v) = from_json(obj) {
            return Ok(v);
        }
    }
    if let Some(v) = lenient(text) {
        return Ok(v);
    }
    if let Some(v) = prose(text) {
        return Ok(v);
    }
    Err(format!(
        "cannot find a verdict in the answer {:?}",
        snippet(text, 120)
    ))
}

fn from_json(s: &str) -> Option<Verdict> {
    let raw: RawVerdict = serde_json::from_str(s).ok()?;
    let contradiction = match &raw.contradiction {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(s) => yes_no(s)?,
        serde_json::Value::Number(n) => n.as_f64()? != 0.0,
        _ => return None,
    };
    let confidence = match raw.confidence {
        Some(serde_json::Value::Number(n)) => n.as_f64().map(confidence_from),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .trim_end_matches('%')
            .parse::<f64>()
            .ok()
            .map(confidence_from),
        _ => None,
    }
    .unwrap_or(DEFAULT_CONFIDENCE);
    let reasoning = match raw.reasoning {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Some(Verdict {
        contradiction,
        confidence,
        reasoning,
        parsed_from: ParsedFrom::Json,
    })
}

/// Percentages (1 < x <= 100) are read as such; anything else is clamped to 0..=1.
fn confidence_from(x: f64) -> f32 {
    let x = if x > 1.0 && x <= 100.0 { x / 100.0 } else { x };
    if x.is_nan() {
        DEFAULT_CONFIDENCE
    } else {
        x.clamp(0.0, 1.0) as f32
    }
}

fn yes_no(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "contradiction" => Some(true),
        "false" | "no" | "0" | "none" => Some(false),
        _ => None,
    }
}

/// The first balanced `{...}` in `s` (strings and escapes respected), e.g. inside a fence.
fn first_json_object(s: &str) -> Option<&str> {
    let start = s.find('{')?;
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for (i, c) in s[start..].char_indices() {
        match c {
            _ if esc => esc = false,
            '\\' if in_str => esc = true,
            '"' => in_str = !in_str,
            '{' if !in_str => depth += 1,
            '}' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    return Some(&s[start..start + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

static FIELD_CONTRADICTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)['"]?contradiction['"]?\s*[:=]\s*['"]?(true|false|yes|no)\b"#)
        .expect("valid regex")
});
static FIELD_CONFIDENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)['"]?confidence['"]?\s*[:=]\s*['"]?([0-9]*\.?[0-9]+)\s*(%?)"#)
        .expect("valid regex")
});
static FIELD_REASONING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)"reasoning"\s*:\s*"((?:[^"\\]|\\.)*)"#).expect("valid regex")
});

/// Picks the fields out of JSON that does not parse (truncated, single quotes, trailing commas).
fn lenient(s: &str) -> Option<Verdict> {
    let c = FIELD_CONTRADICTION.captures(s)?;
    let contradiction = yes_no(&c[1])?;
    let confidence = confidence_in(s).unwrap_or(DEFAULT_CONFIDENCE);
    let reasoning = FIELD_REASONING
        .captures(s)
        .map(|c| c[1].replace("\\\"", "\""))
        .unwrap_or_default();
    Some(Verdict {
        contradiction,
        confidence,
        reasoning,
        parsed_from: ParsedFrom::Lenient,
    })
}

fn confidence_in(s: &str) -> Option<f32> {
    let c = FIELD_CONFIDENCE.captures(s)?;
    let x: f64 = c[1].parse().ok()?;
    Some(if &c[2] == "%" {
        confidence_from(x / 100.0)
    } else {
        confidence_from(x)
    })
}

static NEGATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(no contradiction|not (?:a )?contradict\w*|(?:do|does|did)(?: not|n't) contradict|are (?:not|n't) contradictory|is (?:not|n't) (?:a )?contradict\w*|(?:are|is) (?:consistent|compatible)|can both be true|no,)",
    )
    .expect("valid regex")
});
static POSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(contradict\w*|inconsistent|incompatible|mutually exclusive|cannot both be true|yes,)")
        .expect("valid regex")
});
static PERCENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([0-9]{1,3}(?:\.[0-9]+)?)\s*%").expect("valid regex"));

/// Reads a prose answer: the earliest decisive phrase wins, negative phrases first at the
/// same position ("not contradictory" contains "contradictory").
fn prose(s: &str) -> Option<Verdict> {
    let neg = NEGATIVE.find(s).map(|m| m.start());
    let pos = POSITIVE
        .find_iter(s)
        .map(|m| m.start())
        // skip matches that are inside a negative phrase
        .find(|&p| {
            NEGATIVE
                .find_iter(s)
                .all(|n| !(n.start() <= p && p < n.end()))
        });
    let contradiction = match (neg, pos) {
        (Some(n), Some(p)) => p < n,
        (Some(_), None) => false,
        (None, Some(_)) => true,
        (None, None) => {
            let first = s
                .split(|c: char| !c.is_alphanumeric())
                .find(|w| !w.is_empty())?;
            yes_no(first)?
        }
    };
    let confidence = confidence_in(s)
        .or_else(|| {
            PERCENT
                .captures(s)
                .and_then(|c| c[1].parse::<f64>().ok())
                .map(|x| confidence_from(x / 100.0))
        })
        .unwrap_or(DEFAULT_CONFIDENCE);
    Some(Verdict {
        contradiction,
        confidence,
        reasoning: snippet(s, 500),
        parsed_from: ParsedFrom::Prose,
    })
}

/// At most `n` characters of `s`, for messages.
pub(crate) fn snippet(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> (bool, f32, ParsedFrom) {
        let v = parse_verdict(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        (v.contradiction, v.confidence, v.parsed_from)
    }

    #[test]
    fn json_answers() {
        assert_eq!(
            v(r#"{"contradiction": true, "confidence": 0.92, "reasoning": "x"}"#),
            (true, 0.92, ParsedFrom::Json)
        );
        assert_eq!(
            v(r#"{"contradiction": "no", "confidence": 80}"#),
            (false, 0.8, ParsedFrom::Json)
        );
        assert_eq!(
            v(r#"{"contradiction": false, "confidence": 7.5e3}"#),
            (false, 1.0, ParsedFrom::Json)
        );
        assert_eq!(v(r#"{"contradiction": 1}"#), (true, 0.5, ParsedFrom::Json));
        let full = parse_verdict(
            r#"{"contradiction": false, "confidence": -2, "reasoning": "same \"cat\""}"#,
        )
        .unwrap();
        assert_eq!(full.confidence, 0.0);
        assert_eq!(full.reasoning, "same \"cat\"");
    }

    #[test]
    fn fenced_and_embedded_json() {
        let s = "Here is my verdict:\n```json\n{\"contradiction\": true, \"confidence\": 0.7, \"reasoning\": \"a {brace} inside\"}\n```";
        assert_eq!(v(s), (true, 0.7, ParsedFrom::Json));
    }

    #[test]
    fn broken_json_is_read_leniently() {
        assert_eq!(
            v(r#"{"contradiction": true, "confidence": 0.66, "reasoning": "cut off"#),
            (true, 0.66, ParsedFrom::Lenient)
        );
        assert_eq!(
            v("{'contradiction': False, 'confidence': 0.4,}"),
            (false, 0.4, ParsedFrom::Lenient)
        );
    }

    #[test]
    fn prose_answers() {
        assert_eq!(
            v("Yes, these statements contradict each other."),
            (true, 0.5, ParsedFrom::Prose)
        );
        assert_eq!(
            v("The statements are not contradictory; both can be true. Confidence: 0.85"),
            (false, 0.85, ParsedFrom::Prose)
        );
        assert_eq!(
            v("They do not contradict. I am 90% sure."),
            (false, 0.9, ParsedFrom::Prose)
        );
        assert_eq!(
            v("These are mutually exclusive claims."),
            (true, 0.5, ParsedFrom::Prose)
        );
        assert_eq!(v("No."), (false, 0.5, ParsedFrom::Prose));
        assert_eq!(
            v("There is no contradiction here."),
            (false, 0.5, ParsedFrom::Prose)
        );
    }

    #[test]
    fn undecidable_answers_are_errors() {
        assert!(parse_verdict("").unwrap_err().contains("empty"));
        let e = parse_verdict("I like turtles.").unwrap_err();
        assert!(e.contains("I like turtles"), "{e}");
        assert!(parse_verdict("{\"answer\": 42}").is_err());
    }

    #[test]
    fn prompt_layout_is_stable() {
        assert_eq!(user_prompt("x", "y"), "Statement A: x\nStatement B: y");
    }
}
