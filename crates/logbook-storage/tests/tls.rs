//! TLS to PostgreSQL through rustls: with `sslmode=verify-full` the server's
//! certificate must chain to the given authority and name the host; otherwise
//! the connection is refused.
//!
//! Runs when `LOGBOOK_TEST_TLS_CA_FILE` names the authority (or self-signed
//! certificate) of the test server's TLS certificate, issued for `localhost`;
//! `.ci/run` sets it to Debian's snakeoil certificate, which PostgreSQL uses by
//! default there. Otherwise it says that it did not run.

use logbook_storage::Storage;
use logbook_storage::postgres::test_database::TestDatabase;
use logbook_storage::postgres::{ConnectOptions, PostgresStorage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_verify_the_server() {
    let Some(ca_file) = std::env::var_os("LOGBOOK_TEST_TLS_CA_FILE") else {
        println!("not run: LOGBOOK_TEST_TLS_CA_FILE is not set");
        return;
    };
    let Some(database) = TestDatabase::create().await else { return };
    if !database.url.contains("@127.0.0.1:") {
        println!("not run: the test server is not on 127.0.0.1");
        return;
    }
    let options = |host: &str, ca_file: Option<std::path::PathBuf>| ConnectOptions {
        url: format!("{}?sslmode=verify-full", database.url.replace("@127.0.0.1:", &format!("@{host}:"))),
        ca_file,
        max_connections: 2,
    };
    let verified = PostgresStorage::open(&options("localhost", Some(ca_file.clone().into())))
        .await
        .expect("TLS with a certificate that chains to the authority and names the host");
    verified.ping().await.unwrap();
    // The certificate names `localhost`, not the address.
    let wrong_name = PostgresStorage::open(&options("127.0.0.1", Some(ca_file.into()))).await;
    assert!(wrong_name.is_err(), "a certificate for another name is refused");
    // Public authorities (Debian's bundle, which the self-signed test certificate is not in).
    let public_authorities = std::path::PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
    if public_authorities.exists() {
        let unknown_authority = PostgresStorage::open(&options("localhost", Some(public_authorities))).await;
        assert!(unknown_authority.is_err(), "a certificate from an unknown authority is refused");
    }
}
