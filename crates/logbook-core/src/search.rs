//! Free text: which words an event can be found by, and how a `q` matches them.
//!
//! Words are runs of letters and digits, lowercased. An event's words come from
//! its action (`queue.renamed` gives `queue`, `renamed`), its actor's, target's and
//! related records' names and ids, its changes' fields and values, and its own
//! description when it has one. These are the parts every catalog description is
//! made of, so the words do not depend on a template. A search matches when each
//! of its words is a prefix of some word of the event.
//!
//! A quoted phrase of the query language matches when its words appear, whole and
//! in order, inside one of those parts. [`search_text`] lays the parts out so that
//! both are plain substring searches: a word prefix follows a space
//! ([`word_prefix_pattern`]), a phrase sits between spaces ([`phrase_pattern`]).
//! Storage keeps that text beside each event, so free text costs no index rows.

use std::collections::BTreeSet;

use crate::event::EventBody;
use crate::filter::value_text;

/// The words of a text, in order: runs of letters and digits, lowercased.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|character: char| !character.is_alphanumeric()).filter(|word| !word.is_empty()).map(str::to_lowercase)
}

/// The parts of an event that free text searches, in a fixed order.
fn searchable_texts(body: &EventBody) -> Vec<String> {
    let mut texts: Vec<String> = vec![body.action.clone(), body.actor.id.clone()];
    texts.extend(body.actor.name.clone());
    for record in body.records() {
        texts.push(record.id.clone());
        texts.extend(record.name.clone());
    }
    for change in &body.changes {
        texts.push(change.field.clone());
        texts.push(value_text(&change.from));
        texts.push(value_text(&change.to));
    }
    texts.extend(body.description.clone());
    texts
}

/// Every word an event can be found by.
pub fn searchable_words(body: &EventBody) -> BTreeSet<String> {
    searchable_texts(body).iter().flat_map(|text| words(text)).collect()
}

/// The event's searchable parts as one text for phrase search: each part's words
/// between single spaces, with a space before and after, and a newline between
/// parts (`" ticket status changed \n ana lee \n"`), so that a phrase never spans
/// two parts.
pub fn search_text(body: &EventBody) -> String {
    let mut text = String::new();
    for part in searchable_texts(body) {
        text.push(' ');
        for word in words(&part) {
            text.push_str(&word);
            text.push(' ');
        }
        text.push('\n');
    }
    text
}

/// What a [`search_text`] contains when the phrase's words appear in it, whole and
/// in order: `" ana lee "`.
pub fn phrase_pattern(phrase: &[String]) -> String {
    format!(" {} ", phrase.join(" "))
}

/// What a [`search_text`] contains when one of its words starts with `term`
/// (`" ana"`): every word follows a space, and a term has no spaces.
pub fn word_prefix_pattern(term: &str) -> String {
    format!(" {term}")
}

/// Whether every search word is a prefix of one of the event's words.
pub fn matches_words(terms: &[String], words: &BTreeSet<String>) -> bool {
    terms.iter().all(|term| words.range(term.clone()..).next().is_some_and(|word| word.starts_with(term.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercase_runs_of_letters_and_digits() {
        let found: Vec<String> = words("Ana Müller changed T-42's STATUS, from \"open\"").collect();
        assert_eq!(found, ["ana", "müller", "changed", "t", "42", "s", "status", "from", "open"]);
    }

    #[test]
    fn every_term_must_prefix_a_word() {
        let words: BTreeSet<String> = ["billing", "queue", "renamed"].map(String::from).into();
        let check = |terms: &[&str], expected: bool| {
            let terms: Vec<String> = terms.iter().map(|term| term.to_string()).collect();
            assert_eq!(matches_words(&terms, &words), expected, "{terms:?}");
        };
        check(&["bill"], true);
        check(&["bill", "ren"], true);
        check(&["queues"], false);
        check(&["bill", "pay"], false);
        check(&[], true);
    }

    #[test]
    fn phrases_match_whole_words_in_order_within_one_part() {
        let text = " ticket status changed \n ana lee \n open \n";
        let check = |phrase: &[&str], expected: bool| {
            let phrase: Vec<String> = phrase.iter().map(|word| word.to_string()).collect();
            assert_eq!(text.contains(&phrase_pattern(&phrase)), expected, "{phrase:?}");
        };
        check(&["ana", "lee"], true);
        check(&["status"], true);
        check(&["lee", "ana"], false);
        check(&["stat"], false);
        check(&["lee", "open"], false);
    }

    #[test]
    fn a_word_prefix_in_the_search_text_is_a_prefix_of_one_of_the_words() {
        let text = " ticket status changed \n ana lee \n open \n";
        let words: BTreeSet<String> = text.split_whitespace().map(String::from).collect();
        for term in ["t", "tick", "ticket", "ickets", "status", "sta", "tus", "ana", "lee", "le", "open", "pen", "x"] {
            let in_text = text.contains(&word_prefix_pattern(term));
            assert_eq!(in_text, matches_words(&[term.to_string()], &words), "{term}");
        }
    }
}
