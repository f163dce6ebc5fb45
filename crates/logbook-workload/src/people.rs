//! The people of a workload: support agents, supervisors, QA graders and admins
//! with names, emails, roles, a usual IP address and a browser.

use rand::Rng;
use rand::rngs::SmallRng;

const FIRST_NAMES: [&str; 24] = [
    "Ana", "Ben", "Chloé", "Dmitri", "Esi", "Farah", "Gabriel", "Hana", "Ivan", "Jia", "Kofi", "Lena", "Mateo",
    "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Yusuf",
];
const LAST_NAMES: [&str; 16] = [
    "Silva", "Okafor", "Müller", "Nakamura", "Dubois", "Kowalski", "Haddad", "Jensen", "Reyes", "Chen", "Novak",
    "Mensah", "Rossi", "Kaur", "Ivanova", "O'Brien",
];
const ROLES: [&str; 5] = ["agent", "agent", "supervisor", "grader", "admin"];
const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
];

/// Someone who acts in the workload.
#[derive(Debug, Clone)]
pub struct Person {
    /// The embedding product's user id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Role in the embedding product.
    pub role: String,
    /// The address they usually come from.
    pub ip: String,
    /// Their browser.
    pub user_agent: String,
}

pub(crate) fn generate(rng: &mut SmallRng, count: usize) -> Vec<Person> {
    (0..count)
        .map(|number| {
            let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
            let handle: String =
                format!("{first}.{last}").to_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
            Person {
                id: format!("U-{}", 1000 + number),
                name: format!("{first} {last}"),
                email: format!("{handle}{number}@example.com"),
                role: ROLES[rng.random_range(0..ROLES.len())].to_string(),
                ip: if rng.random_bool(0.5) {
                    format!("192.0.2.{}", rng.random_range(1..255))
                } else {
                    format!("2001:db8::{:x}", rng.random_range(1..0xffff))
                },
                user_agent: USER_AGENTS[rng.random_range(0..USER_AGENTS.len())].to_string(),
            }
        })
        .collect()
}
