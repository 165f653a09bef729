//! Whether two words are opposites, for the `substitution` rule of the decision: a
//! statement and its copy with one word swapped for its opposite ("The store is open on
//! Sundays." / "… closed …", "`pulp` is a safe abstraction" / "… an unsafe …").
//!
//! Two sources: a lexicon of common antonyms of general and technical prose (the rule
//! also consults the lexical detector's own list, through that detector), and the
//! negating prefixes and suffixes of English word formation ("compatible" / "incompatible", "useful" / "useless"), with
//! the guards that keep look-alikes out ("cover" / "discover", "less" / "unless").
//!
//! The lexicon was written from general knowledge, not from any evaluation set; it
//! includes most of the words the prose benchmark's planting script swaps
//! (`scripts/prose-corpus.py`), so that benchmark's antonym recall is not evidence of
//! coverage — corpora planted with other words are.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Antonym pairs (either order), lower case. Comparatives and superlatives of the
/// one-syllable adjectives are listed where they are common in prose. Complementary
/// pairs whose two sides commonly hold together of one thing are left out: a tool can
/// read *and* write, import *and* export, link statically *and* dynamically, have public
/// *and* private parts.
const PAIRS: &[(&str, &str)] = &[
    // size, amount, degree
    ("big", "small"),
    ("large", "small"),
    ("larger", "smaller"),
    ("largest", "smallest"),
    ("bigger", "smaller"),
    ("biggest", "smallest"),
    ("huge", "tiny"),
    ("long", "short"),
    ("longer", "shorter"),
    ("longest", "shortest"),
    ("tall", "short"),
    ("high", "low"),
    ("higher", "lower"),
    ("highest", "lowest"),
    ("wide", "narrow"),
    ("thick", "thin"),
    ("deep", "shallow"),
    ("heavy", "light"),
    ("heavier", "lighter"),
    ("heaviest", "lightest"),
    ("heavyweight", "lightweight"),
    ("more", "less"),
    ("more", "fewer"),
    ("most", "least"),
    ("many", "few"),
    ("much", "little"),
    ("maximum", "minimum"),
    ("max", "min"),
    ("upper", "lower"),
    ("increase", "decrease"),
    ("increases", "decreases"),
    ("increased", "decreased"),
    ("increasing", "decreasing"),
    ("grow", "shrink"),
    ("grows", "shrinks"),
    ("rise", "fall"),
    ("rises", "falls"),
    ("gain", "lose"),
    ("gains", "loses"),
    ("full", "empty"),
    ("all", "none"),
    ("always", "never"),
    ("everything", "nothing"),
    ("everyone", "nobody"),
    ("often", "rarely"),
    ("frequently", "rarely"),
    // speed, time, order
    ("fast", "slow"),
    ("faster", "slower"),
    ("fastest", "slowest"),
    ("quick", "slow"),
    ("quickly", "slowly"),
    ("early", "late"),
    ("earlier", "later"),
    ("earliest", "latest"),
    ("before", "after"),
    ("first", "last"),
    ("old", "new"),
    ("older", "newer"),
    ("oldest", "newest"),
    ("ancient", "modern"),
    ("past", "future"),
    ("start", "end"),
    ("begin", "end"),
    ("starts", "ends"),
    ("begins", "ends"),
    ("open", "closed"),
    ("opens", "closes"),
    ("opened", "closed"),
    // quality, evaluation
    ("good", "bad"),
    ("good", "poor"),
    ("better", "worse"),
    ("best", "worst"),
    ("strong", "weak"),
    ("stronger", "weaker"),
    ("strongest", "weakest"),
    ("easy", "hard"),
    ("easy", "difficult"),
    ("easier", "harder"),
    ("simple", "complex"),
    ("simple", "complicated"),
    ("cheap", "expensive"),
    ("safe", "dangerous"),
    ("safe", "unsafe"),
    ("rich", "poor"),
    ("success", "failure"),
    ("succeeds", "fails"),
    ("succeeded", "failed"),
    ("pass", "fail"),
    ("passes", "fails"),
    ("passed", "failed"),
    ("correct", "wrong"),
    ("right", "wrong"),
    ("true", "false"),
    ("positive", "negative"),
    ("accurate", "inaccurate"),
    ("efficient", "inefficient"),
    ("reliable", "unreliable"),
    ("robust", "fragile"),
    ("clean", "dirty"),
    ("happy", "sad"),
    ("love", "hate"),
    ("loves", "hates"),
    ("like", "dislike"),
    ("likes", "dislikes"),
    // state, permission, requirement
    ("enable", "disable"),
    ("enables", "disables"),
    ("enabled", "disabled"),
    ("allow", "forbid"),
    ("allows", "forbids"),
    ("allowed", "forbidden"),
    ("allow", "prevent"),
    ("allows", "prevents"),
    ("permitted", "prohibited"),
    ("accept", "reject"),
    ("accepts", "rejects"),
    ("accepted", "rejected"),
    ("include", "exclude"),
    ("includes", "excludes"),
    ("included", "excluded"),
    ("inclusive", "exclusive"),
    ("required", "optional"),
    ("mandatory", "optional"),
    ("present", "absent"),
    ("visible", "hidden"),
    ("alive", "dead"),
    ("on", "off"),
    ("online", "offline"),
    ("active", "passive"),
    ("busy", "idle"),
    ("locked", "unlocked"),
    ("win", "lose"),
    ("wins", "loses"),
    ("won", "lost"),
    ("buy", "sell"),
    ("buys", "sells"),
    ("push", "pull"),
    ("agree", "disagree"),
    ("agrees", "disagrees"),
    ("above", "below"),
    ("over", "under"),
    ("inside", "outside"),
    ("north", "south"),
    ("east", "west"),
    ("northern", "southern"),
    ("eastern", "western"),
    ("up", "down"),
    ("upward", "downward"),
    ("left", "right"),
    ("top", "bottom"),
    ("hot", "cold"),
    ("warm", "cold"),
    ("warm", "cool"),
    ("hotter", "colder"),
    ("wet", "dry"),
    ("light", "dark"),
    ("day", "night"),
    ("summer", "winter"),
    ("hard", "soft"),
    ("loud", "quiet"),
    ("rough", "smooth"),
    ("sweet", "sour"),
    ("healthy", "sick"),
    ("asleep", "awake"),
    ("sunrise", "sunset"),
    ("arrive", "leave"),
    ("arrives", "leaves"),
    ("enter", "exit"),
    ("same", "different"),
    ("similar", "different"),
    ("equal", "unequal"),
    // computing
    ("explicit", "implicit"),
    ("explicitly", "implicitly"),
    ("encrypted", "plaintext"),
    ("compressed", "uncompressed"),
    ("signed", "unsigned"),
    ("blocking", "nonblocking"),
    ("mutable", "immutable"),
    ("stable", "unstable"),
    ("sync", "async"),
    ("synchronous", "asynchronous"),
    ("synchronously", "asynchronously"),
    ("sequential", "parallel"),
    ("sequentially", "concurrently"),
    ("manual", "automatic"),
    ("manually", "automatically"),
    ("strict", "lenient"),
    ("strict", "loose"),
    ("deprecated", "recommended"),
    ("supported", "unsupported"),
    ("valid", "invalid"),
    ("secure", "insecure"),
    ("compatible", "incompatible"),
    ("possible", "impossible"),
    ("legal", "illegal"),
    ("visible", "invisible"),
    ("ascending", "descending"),
    ("minor", "major"),
    ("lossless", "lossy"),
    ("eager", "lazy"),
    ("eagerly", "lazily"),
    ("verbose", "quiet"),
    // French, Spanish, German (the lexical detector's)
    ("chaud", "froid"),
    ("vrai", "faux"),
    ("grand", "petit"),
    ("caliente", "frío"),
    ("verdadero", "falso"),
    ("heiß", "kalt"),
    ("wahr", "falsch"),
];

/// Bases that look prefixed but are other words: "discover" is not "not cover",
/// "unless" is not "not less", "instance" is not "not stance".
const NOT_NEGATED: &[&str] = &[
    // dis-
    "cover",
    "covers",
    "covered",
    "charge",
    "charged",
    "charges",
    "close",
    "closed",
    "closes",
    "play",
    "played",
    "plays",
    "pose",
    "posed",
    "miss",
    "missed",
    "count",
    "counts",
    "counted",
    "patch",
    "patched",
    "course",
    "card",
    "cards",
    "claim",
    "claims",
    "tribute",
    "solve",
    "solved",
    "tract",
    "cern",
    "position",
    "positions",
    "perse",
    "pense",
    "guise",
    "gust",
    "tort",
    "member",
    "arm",
    "armed",
    "ease",
    "eased",
    "mantle",
    "tinct",
    "cuss",
    "pute",
    "posal",
    "patcher",
    // un-
    "less",
    "til",
    "ion",
    "ions",
    "iform",
    "ique",
    "iversal",
    "ivariate",
    "ity",
    "der",
    "dergo",
    "dertake",
    "wind",
    // in-/im-
    "stance",
    "stances",
    "tend",
    "tended",
    "vent",
    "vented",
    "form",
    "formed",
    "forms",
    "come",
    "comes",
    "deed",
    "side",
    "sight",
    "sights",
    "sure",
    "spire",
    "spired",
    "spect",
    "vest",
    "vested",
    "voice",
    "dex",
    "fuse",
    "fused",
    "here",
    "jure",
    "fer",
    "duce",
    "clude",
    "cline",
    "dent",
    "ject",
    "port",
    "ports",
    "ported",
    "press",
    "pressed",
    "pose",
    "posed",
    "ply",
    "plied",
    "plies",
    "pact",
    "pair",
    "paired",
    "part",
    "parted",
    "pede",
    "plant",
    "planted",
    "merse",
    "mune",
    "tense",
    "tention",
    "terest",
    "put",
    "puts",
    "crease",
    "creased",
    "creases",
    "habit",
    "valuable",
    "flammable",
    "famous",
    // a-
    "board",
    "cross",
    "live",
    "like",
    "part",
    "side",
    "way",
    "round",
    "head",
    "float",
    "loud",
];

/// Suffixes after which an `in-`/`im-`/`il-`/`ir-` or `a-` form is a negation:
/// adjectives ("valid", "mutable", "complete", "correct", "symmetric").
const ADJECTIVE_ENDINGS: &[&str] = &[
    "able", "ible", "ent", "ant", "al", "ive", "ic", "ous", "ete", "ect", "ure", "ar", "id", "ite",
    "ile", "ate", "ed",
];

static LEXICON: LazyLock<HashSet<(&'static str, &'static str)>> =
    LazyLock::new(|| PAIRS.iter().flat_map(|&(x, y)| [(x, y), (y, x)]).collect());

/// Whether `x` and `y` (lower case, single words) are opposites: listed in the lexicon,
/// or one is the other with a negating prefix (`un`, `non`, `dis`; `in`/`im`/`il`/`ir`
/// and `a` before adjectives) or with `-ful` swapped for `-less`.
pub fn opposite(x: &str, y: &str) -> bool {
    if x == y {
        return false;
    }
    if LEXICON.contains(&(x, y)) {
        return true;
    }
    negated_form(x, y) || negated_form(y, x) || ful_less(x, y) || ful_less(y, x)
}

/// `neg` is `base` with a negating prefix.
fn negated_form(base: &str, neg: &str) -> bool {
    let b = base.trim_start_matches('-');
    // "-ing": an action, where the prefix reverses rather than negates ("locking" /
    // "unlocking" a mutex are both things it allows)
    if b.chars().count() < 4
        || NOT_NEGATED.contains(&b)
        || !b.chars().all(char::is_alphabetic)
        || b.ends_with("ing")
    {
        return false;
    }
    let Some(prefix) = neg.strip_suffix(b) else {
        return false;
    };
    let prefix = prefix.trim_end_matches('-');
    let adjective = || b.len() >= 5 && ADJECTIVE_ENDINGS.iter().any(|e| b.ends_with(e));
    match prefix {
        "un" | "non" | "dis" => true,
        "in" => adjective() && !b.starts_with(['b', 'm', 'p', 'l', 'r']),
        "im" => adjective() && b.starts_with(['b', 'm', 'p']),
        "il" => adjective() && b.starts_with('l'),
        "ir" => adjective() && b.starts_with('r'),
        "a" => {
            b.len() >= 6
                && ["ic", "ical", "ous", "al"].iter().any(|e| b.ends_with(e))
                && !b.starts_with(['a', 'e', 'i', 'o', 'u'])
        }
        _ => false,
    }
}

/// `x` ends in `-ful` and `y` is the same stem with `-less` ("useful" / "useless").
fn ful_less(x: &str, y: &str) -> bool {
    match (x.strip_suffix("ful"), y.strip_suffix("less")) {
        (Some(a), Some(b)) => a == b && a.len() >= 3,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::opposite;

    #[test]
    fn listed_and_derived_opposites() {
        for (x, y) in [
            ("open", "closed"),
            ("closed", "open"),
            ("good", "poor"),
            ("faster", "slower"),
            ("enabled", "disabled"),
            ("compatible", "incompatible"),
            ("mutable", "immutable"),
            ("legal", "illegal"),
            ("regular", "irregular"),
            ("complete", "incomplete"),
            ("supported", "unsupported"),
            ("available", "unavailable"),
            ("blocking", "nonblocking"),
            ("connected", "disconnected"),
            ("locked", "unlocked"),
            ("symmetric", "asymmetric"),
            ("useful", "useless"),
            ("safe", "unsafe"),
        ] {
            assert!(opposite(x, y), "{x} / {y}");
        }
    }

    #[test]
    fn look_alikes_are_not_opposites() {
        for (x, y) in [
            ("cover", "discover"),
            ("less", "unless"),
            ("stance", "instance"),
            ("formed", "informed"),
            ("port", "import"),
            ("ported", "imported"),
            ("tense", "intense"),
            ("like", "alike"),
            ("side", "aside"),
            ("locking", "unlocking"),
            ("fast", "fast"),
            ("man", "woman"),
            ("cat", "dog"),
            ("read", "write"),
            ("import", "export"),
            ("public", "private"),
            ("possible", "inpossible"),
            ("legal", "inlegal"),
        ] {
            assert!(!opposite(x, y), "{x} / {y}");
        }
    }
}
