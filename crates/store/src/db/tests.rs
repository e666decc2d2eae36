//! The connection layer on both backends (Postgres when TEST_DATABASE_URL is set; see
//! [`crate::test_db`]).
