//! PostgreSQL behind [`Db`]: one blocking client (the store runs jobs on its own threads,
//! as with SQLite), statements translated by [`dialect`] and prepared once per connection.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::{dialect, Arg, Db, Row};
use crate::error::ApiError;

/// One PostgreSQL connection and its prepared statements.
pub struct PgDb {
    client: RefCell<Client>,
    statements: RefCell<HashMap<&'static str, Statement>>,
}

impl PgDb {
    /// Connects to `url` (`postgres://USER:PASS@HOST:PORT/DB`). Without TLS: the server
    /// and its database sit on one private network (see the README's deployment section).
    pub fn connect(url: &str) -> Result<PgDb, String> {
        let client = Client::connect(url, NoTls)
            .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
        Ok(PgDb {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
        })
    }

    /// Runs several statements as they are (DDL, `BEGIN`, `SAVEPOINT` …), untranslated.
    pub fn batch(&self, sql: &str) -> Result<(), ApiError> {
        Ok(self.client.borrow_mut().batch_execute(sql)?)
    }

    /// The client itself, for what [`Db`] does not cover (schema migrations).
    pub fn with_client<T>(&self, f: impl FnOnce(&mut Client) -> T) -> T {
        f(&mut self.client.borrow_mut())
    }

    /// Runs `f` in one transaction: committed when it returns Ok, rolled back otherwise.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&PgDb) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.batch("BEGIN")?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn statement(&self, sql: &'static str) -> Result<Statement, ApiError> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let prepared = self
            .client
            .borrow_mut()
            .prepare(&dialect::to_postgres(sql))?;
        self.statements.borrow_mut().insert(sql, prepared.clone());
        Ok(prepared)
    }
}

fn params<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

impl Db for PgDb {
    fn execute(&self, sql: &'static str, args: &[Arg<'_>]) -> Result<usize, ApiError> {
        let stmt = self.statement(sql)?;
        let n = self.client.borrow_mut().execute(&stmt, &params(args))?;
        Ok(n as usize)
    }

    fn for_each(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let stmt = self.statement(sql)?;
        // Fetched whole before `each` runs, so `each` may run statements of its own on
        // this connection (as it may on SQLite).
        let rows = self.client.borrow_mut().query(&stmt, &params(args))?;
        for row in &rows {
            each(&Row::Pg(row))?;
        }
        Ok(())
    }
}

/// Integers bind to whichever integer (or boolean) type PostgreSQL inferred for the
/// parameter; text to text types; bytes to BYTEA.
impl ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match *self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(i) => match *ty {
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Arg::Text(t) => t.to_sql(ty, out),
            Arg::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::BOOL
                | Type::TEXT
                | Type::VARCHAR
                | Type::BYTEA
        )
    }

    postgres::types::to_sql_checked!();
}
