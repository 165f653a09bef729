//! Each association type: sentences that must produce it, and sentences that must not.

use kimera_learn::{Relation, extract};

/// The (src, rel, attr, dst) facts of a statement, co-occurrence left out.
fn facts(text: &str) -> Vec<(String, Relation, Option<String>, String)> {
    let ex = extract(text, "en").unwrap();
    ex.links
        .iter()
        .filter(|l| l.rel != Relation::CoOccurs)
        .map(|l| {
            (
                ex.term(l.src).to_string(),
                l.rel,
                l.attr.map(|a| ex.term(a).to_string()),
                ex.term(l.dst).to_string(),
            )
        })
        .collect()
}

fn has(text: &str, src: &str, rel: Relation, dst: &str) -> bool {
    facts(text)
        .iter()
        .any(|(s, r, _, d)| s == src && *r == rel && d == dst)
}

fn attr(text: &str, src: &str, a: &str, dst: &str) -> bool {
    facts(text).iter().any(|(s, r, at, d)| {
        s == src && *r == Relation::Attribute && at.as_deref() == Some(a) && d == dst
    })
}

fn none_of(text: &str, rel: Relation) -> bool {
    facts(text).iter().all(|f| f.1 != rel)
}

#[test]
fn is_a() {
    assert!(has("A cat is a mammal.", "cat", Relation::IsA, "mammal"));
    assert!(has("Cats are mammals", "cat", Relation::IsA, "mammal"));
    assert!(has(
        "The whale is a kind of large mammal.",
        "whale",
        Relation::IsA,
        "large mammal"
    ));
    assert!(has(
        "Paris is a city of France.",
        "paris",
        Relation::IsA,
        "city"
    ));
    assert!(none_of("A cat is not a dog.", Relation::IsA));
    assert!(none_of("The cat sat on the mat.", Relation::IsA));
}

#[test]
fn part_of_and_contains() {
    assert!(has(
        "The wheel is part of the car.",
        "wheel",
        Relation::PartOf,
        "car"
    ));
    assert!(has(
        "France belongs to the European Union.",
        "france",
        Relation::PartOf,
        "european union"
    ));
    assert!(has(
        "The box contains apples and pears.",
        "apple",
        Relation::PartOf,
        "box"
    ));
    assert!(has(
        "The box contains apples and pears.",
        "pear",
        Relation::PartOf,
        "box"
    ));
    assert!(none_of("The wheel turned slowly.", Relation::PartOf));
}

#[test]
fn has_property() {
    assert!(has(
        "The sky is blue.",
        "sky",
        Relation::HasProperty,
        "blue"
    ));
    assert!(has(
        "Cats have whiskers.",
        "cat",
        Relation::HasProperty,
        "whisker"
    ));
    assert!(none_of("The sky is not blue.", Relation::HasProperty));
    assert!(none_of("Look at the sky.", Relation::HasProperty));
}

#[test]
fn causes_both_ways() {
    assert!(has(
        "Smoking causes cancer in mice.",
        "smoking",
        Relation::Causes,
        "cancer"
    ));
    assert!(has(
        "Rain leads to floods.",
        "rain",
        Relation::Causes,
        "flood"
    ));
    assert!(has(
        "Cancer is caused by smoking.",
        "smoking",
        Relation::Causes,
        "cancer"
    ));
    assert!(none_of("Smoking does not cause cancer.", Relation::Causes));
    assert!(none_of(
        "Smoking and cancer were studied.",
        Relation::Causes
    ));
}

#[test]
fn located_in() {
    assert!(has(
        "The Louvre is located in Paris.",
        "louvre",
        Relation::LocatedIn,
        "paris"
    ));
    assert!(has(
        "Paris is in France.",
        "paris",
        Relation::LocatedIn,
        "france"
    ));
    assert!(has(
        "Penguins live in Antarctica.",
        "penguin",
        Relation::LocatedIn,
        "antarctica"
    ));
    assert!(none_of("Paris is beautiful.", Relation::LocatedIn));
}

#[test]
fn made_of() {
    assert!(has(
        "The table is made of oak.",
        "table",
        Relation::MadeOf,
        "oak"
    ));
    assert!(has(
        "Water consists of hydrogen and oxygen.",
        "water",
        Relation::MadeOf,
        "oxygen"
    ));
    assert!(none_of("The table is made.", Relation::MadeOf));
}

#[test]
fn used_for() {
    assert!(has(
        "A hammer is used for driving nails.",
        "hammer",
        Relation::UsedFor,
        "driving nail"
    ));
    assert!(none_of("A hammer is heavy.", Relation::UsedFor));
}

#[test]
fn temporal_order_is_normalised_to_before() {
    assert!(has(
        "The war happened before the revolution.",
        "war",
        Relation::Before,
        "revolution"
    ));
    assert!(has(
        "Dinner comes after lunch.",
        "lunch",
        Relation::Before,
        "dinner"
    ));
    assert!(none_of("The war was long.", Relation::Before));
}

#[test]
fn opposite_similar_equals_are_symmetric() {
    assert!(has(
        "Hot is the opposite of cold.",
        "cold",
        Relation::OppositeOf,
        "hot"
    ));
    assert!(has(
        "Cold is the opposite of hot.",
        "cold",
        Relation::OppositeOf,
        "hot"
    ));
    assert!(has(
        "A wolf is similar to a dog.",
        "dog",
        Relation::SimilarTo,
        "wolf"
    ));
    assert!(has(
        "One kilometre equals 1000 metres.",
        "1000 metre",
        Relation::Equals,
        "kilometre"
    ));
    assert!(none_of("Hot tea is nice.", Relation::OppositeOf));
}

#[test]
fn attributes_in_many_spellings_agree() {
    for s in [
        "The capital of France is Paris.",
        "Paris is the capital of France.",
        "France's capital is Paris.",
    ] {
        assert!(attr(s, "france", "capital", "paris"), "{s}: {:?}", facts(s));
    }
    for s in [
        "Paris has a population of 2.1 million.",
        "Paris has population 2,100,000.",
        "The population of Paris is 2.1 million.",
    ] {
        assert!(
            attr(s, "paris", "population", "2100000"),
            "{s}: {:?}",
            facts(s)
        );
    }
    assert!(attr(
        "Rome was founded in 753.",
        "rome",
        "founded-date",
        "753"
    ));
    assert!(attr(
        "Mozart was born in Salzburg.",
        "mozart",
        "born-place",
        "salzburg"
    ));
    assert!(attr(
        "Water boils at 100 degrees.",
        "water",
        "boiling point",
        "100 degree"
    ));
    assert!(attr("A spider has 8 legs.", "spider", "leg", "8"));
    assert!(attr(
        "The tower is 330 metres tall.",
        "tower",
        "height",
        "330 metre"
    ));
    assert!(none_of("Paris is lovely in spring.", Relation::Attribute));
    assert!(none_of("The population grew.", Relation::Attribute));
}

#[test]
fn cooccurrence_is_windowed_and_weighted() {
    let ex = extract("Red apples grow on tall trees.", "en").unwrap();
    let co: Vec<(&str, &str, f32)> = ex
        .links
        .iter()
        .filter(|l| l.rel == Relation::CoOccurs)
        .map(|l| (ex.term(l.src), ex.term(l.dst), l.confidence))
        .collect();
    assert!(co.contains(&("apple", "red", 0.3)));
    assert!(co.contains(&("apple", "grow", 0.3)));
    assert!(co.contains(&("grow", "red", 0.15)));
    assert!(co.contains(&("red", "tall", 0.1)));
    assert!(
        !co.iter().any(|c| c.0 == "red" && c.1 == "tree"),
        "beyond the window"
    );
}

#[test]
fn other_languages_do_not_break() {
    let ex = extract("Paris est une ville. الأرض مسطحة، والقمر كروي.", "fr").unwrap();
    assert!(ex.terms().any(|t| t == "paris"));
    assert!(ex.terms().any(|t| t == "ville"));
    assert!(ex.terms().any(|t| t == "الأرض"));
    assert!(!ex.terms().any(|t| t == "est"), "stop word");
    let ex = extract("Paris fait partie de la France.", "fr").unwrap();
    assert!(ex.links.iter().any(|l| l.rel == Relation::PartOf));
    assert_eq!(extract("", "en").unwrap().term_count(), 0);
    assert!(extract("!!! ... ???", "en").unwrap().links.is_empty());
}

#[test]
fn oversized_statement_is_an_error() {
    let big = "word ".repeat(kimera_learn::MAX_TEXT_BYTES / 4);
    let err = extract(&big, "en").unwrap_err().to_string();
    assert!(err.contains("over the limit"), "{err}");
}
