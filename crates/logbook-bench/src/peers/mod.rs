//! The peers: what teams build by hand instead of an audit log service. One
//! `audit_log` table with the columns filters use, the event as JSON, a primary key
//! and five lookup indexes (by time, actor, target, action and IP, each within a
//! workspace), answering the same read requests with the SQL one would write. The
//! same table in PostgreSQL (loaded with COPY) and in SQLite (bulk inserts in one
//! transaction).

pub mod postgres;
pub mod sqlite;

use crate::reads::{ReadKind, ReadRequest};

/// How long a peer took to load the dataset.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PeerLoad {
    pub system: String,
    pub rows: usize,
    pub seconds: f64,
    pub rows_per_second: f64,
}

impl PeerLoad {
    /// The figures of a load of `rows` that took `seconds`, printed as measured.
    pub fn measured(system: &str, rows: usize, seconds: f64) -> PeerLoad {
        let load = PeerLoad { system: system.into(), rows, seconds, rows_per_second: rows as f64 / seconds.max(1e-9) };
        eprintln!("  loaded {:.0} rows/s", load.rows_per_second);
        load
    }
}

/// A statement parameter.
#[derive(Debug, Clone)]
pub enum Param {
    Text(String),
    Millis(i64),
}

/// The SQL dialect differences that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn placeholder(self, number: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{number}"),
            Dialect::Postgres => format!("${number}"),
        }
    }
}

/// The statement a hand-made audit log would run for a request, and its
/// parameters (the workspace first).
pub fn statement(dialect: Dialect, request: &ReadRequest, workspace: &str) -> (String, Vec<Param>) {
    let mut params = vec![Param::Text(workspace.to_string())];
    let mut bind = |param: Param| {
        params.push(param);
        dialect.placeholder(params.len())
    };
    let text = |value: &str| Param::Text(value.to_string());
    let like_any = |placeholder: String| match dialect {
        Dialect::Sqlite => format!("body LIKE '%' || {placeholder} || '%'"),
        Dialect::Postgres => format!("body::text ILIKE '%' || {placeholder} || '%'"),
    };
    let condition = match request.kind {
        ReadKind::Feed | ReadKind::StatsByDay | ReadKind::StatsByAction => String::new(),
        ReadKind::Action => format!("AND action = {}", bind(text(&request.first))),
        ReadKind::ActionPrefix => format!("AND action LIKE {} || '.%'", bind(text(&request.first))),
        ReadKind::Actor => format!("AND actor_id = {}", bind(text(&request.first))),
        ReadKind::ActorType => format!("AND actor_type = {}", bind(text(&request.first))),
        ReadKind::TargetType => format!("AND target_type = {}", bind(text(&request.first))),
        ReadKind::Timeline => {
            format!("AND target_type = {} AND target_id = {}", bind(text(&request.first)), bind(text(&request.second)))
        }
        ReadKind::Change => match dialect {
            Dialect::Sqlite => format!(
                "AND EXISTS (SELECT 1 FROM json_each(body, '$.changes') c WHERE json_extract(c.value, '$.field') = {} AND json_extract(c.value, '$.to') = {})",
                bind(text(&request.first)),
                bind(text(&request.second))
            ),
            Dialect::Postgres => {
                let change = serde_json::json!([{"field": request.first, "to": request.second}]).to_string();
                format!("AND body->'changes' @> {}::text::jsonb", bind(Param::Text(change)))
            }
        },
        ReadKind::Outcome => "AND outcome = 'failure'".to_string(),
        ReadKind::Ip => format!("AND ip = {}", bind(text(&request.first))),
        ReadKind::DateRange => format!(
            "AND occurred_at >= {} AND occurred_at < {}",
            bind(Param::Millis(request.since_millis)),
            bind(Param::Millis(request.until_millis))
        ),
        ReadKind::FreeText => format!("AND {}", like_any(bind(text(&request.first)))),
        ReadKind::QueryLanguage => {
            let prefix = bind(text(&request.first));
            let word = bind(text(&request.second));
            format!("AND action LIKE {prefix} || '.%' AND actor_type <> 'system' AND {}", like_any(word))
        }
    };
    let statement = match request.kind {
        ReadKind::StatsByDay => {
            let day = match dialect {
                Dialect::Sqlite => "strftime('%Y-%m-%d', occurred_at / 1000, 'unixepoch')",
                Dialect::Postgres => "date_trunc('day', occurred_at)::text",
            };
            format!("SELECT {day}, count(*) FROM audit_log WHERE workspace = {} GROUP BY 1", dialect.placeholder(1))
        }
        ReadKind::StatsByAction => format!(
            "SELECT action, count(*) FROM audit_log WHERE workspace = {} GROUP BY 1 ORDER BY 2 DESC",
            dialect.placeholder(1)
        ),
        _ => format!(
            "SELECT seq, body::text FROM audit_log WHERE workspace = {} {condition} ORDER BY occurred_at DESC, seq DESC LIMIT 50",
            dialect.placeholder(1)
        ),
    };
    // SQLite has no `::text` cast syntax; its body column is text already.
    let statement = if dialect == Dialect::Sqlite { statement.replace("body::text", "body") } else { statement };
    (statement, params)
}

/// The table and its indexes; `time` and `json` are the dialect's column types.
pub fn schema(time: &str, json: &str) -> String {
    format!(
        "CREATE TABLE audit_log (
            workspace    TEXT NOT NULL,
            seq          BIGINT NOT NULL,
            id           TEXT NOT NULL,
            occurred_at  {time} NOT NULL,
            action       TEXT NOT NULL,
            actor_type   TEXT NOT NULL,
            actor_id     TEXT NOT NULL,
            target_type  TEXT NOT NULL,
            target_id    TEXT NOT NULL,
            outcome      TEXT NOT NULL,
            ip           TEXT,
            body         {json} NOT NULL,
            PRIMARY KEY (workspace, seq)
        );
        CREATE INDEX audit_log_by_time ON audit_log (workspace, occurred_at);
        CREATE INDEX audit_log_by_actor ON audit_log (workspace, actor_id, occurred_at);
        CREATE INDEX audit_log_by_target ON audit_log (workspace, target_type, target_id, occurred_at);
        CREATE INDEX audit_log_by_action ON audit_log (workspace, action, occurred_at);
        CREATE INDEX audit_log_by_ip ON audit_log (workspace, ip, occurred_at);"
    )
}
