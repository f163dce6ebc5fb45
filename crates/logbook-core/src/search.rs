//! Free text: which words an event can be found by, and how a `q` matches them.
//!
//! Words are runs of letters and digits, lowercased. An event's words come from
//! its action (`queue.renamed` gives `queue`, `renamed`), its actor's, target's and
//! related records' names and ids, its changes' fields and values, and its own
//! description when it has one. These are the parts every catalog description is
//! made of, so the words do not depend on a template. A search matches when each
//! of its words is a prefix of some word of the event.

use std::collections::BTreeSet;

use crate::event::EventBody;
use crate::filter::value_text;

/// The words of a text, in order: runs of letters and digits, lowercased.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|character: char| !character.is_alphanumeric()).filter(|word| !word.is_empty()).map(str::to_lowercase)
}

/// Every word an event can be found by.
pub fn searchable_words(body: &EventBody) -> BTreeSet<String> {
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
    texts.iter().flat_map(|text| words(text)).collect()
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
}
