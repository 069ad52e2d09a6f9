//! Part 2: raw binary COPY (the PostgreSQL ceiling).

use super::*;

pub(crate) const COLUMNS: &str =
    "id, account_id, quantity, amount, price, name, email, description, \
                       status, active, verified, created_at, updated_at, version, note";

/// The column types sluice's schema.evolution=basic creates for this schema.
pub(crate) fn create_table(name: &str, primary_key: bool) -> String {
    format!(
        "CREATE TABLE {name} (id bigint {pk}, account_id integer, quantity smallint, \
         amount numeric(12,2), price numeric(10,4), name text NOT NULL, email text, \
         description text, status text NOT NULL, active boolean NOT NULL, verified boolean, \
         created_at timestamp NOT NULL, updated_at timestamptz, version bigint NOT NULL, note text)",
        pk = if primary_key {
            "PRIMARY KEY"
        } else {
            "NOT NULL"
        }
    )
}

pub(crate) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

pub(crate) struct CopyWriter(pub(crate) Vec<u8>);

impl CopyWriter {
    fn new() -> CopyWriter {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyWriter(buf)
    }
    fn field(&mut self, bytes: &[u8]) {
        self.0
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.0.extend_from_slice(bytes);
    }
    fn null(&mut self) {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
    }
    fn text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.field(s.as_bytes()),
            None => self.null(),
        }
    }
    /// numeric in PostgreSQL's binary form (base-10000 digits); `scale` <= 4.
    fn numeric(&mut self, unscaled: i64, scale: u32) {
        let p = 10u64.pow(scale);
        let abs = unscaled.unsigned_abs();
        let mut int = abs / p;
        let frac = (abs % p) * 10u64.pow(4 - scale);
        let mut digits: Vec<i16> = Vec::new();
        while int > 0 {
            digits.push((int % 10_000) as i16);
            int /= 10_000;
        }
        digits.reverse();
        let mut weight = digits.len() as i16 - 1;
        digits.push(frac as i16);
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            weight = 0;
        }
        let sign: u16 = if unscaled < 0 && !digits.is_empty() {
            0x4000
        } else {
            0
        };
        let mut b = Vec::with_capacity(8 + 2 * digits.len());
        b.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        b.extend_from_slice(&weight.to_be_bytes());
        b.extend_from_slice(&sign.to_be_bytes());
        b.extend_from_slice(&(scale as i16).to_be_bytes());
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        self.field(&b);
    }
    fn row(&mut self, r: &Row) {
        self.0.extend_from_slice(&15i16.to_be_bytes());
        self.field(&r.id.to_be_bytes());
        self.field(&r.account_id.to_be_bytes());
        self.field(&r.quantity.to_be_bytes());
        self.numeric(r.amount, 2);
        self.numeric(r.price, 4);
        self.text(Some(&r.name));
        self.text(Some(&r.email));
        self.text(Some(&r.description));
        self.text(Some(r.status));
        self.field(&[r.active as u8]);
        match r.verified {
            Some(v) => self.field(&[v as u8]),
            None => self.null(),
        }
        self.field(&(r.created_at - PG_EPOCH_MICROS).to_be_bytes());
        self.field(&(r.updated_at - PG_EPOCH_MICROS).to_be_bytes());
        self.field(&r.version.to_be_bytes());
        self.text(r.note.as_deref());
    }
    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

pub(crate) fn copy_stream<'a>(rows: impl Iterator<Item = &'a (i64, i64)>) -> Vec<u8> {
    let mut w = CopyWriter::new();
    for (id, seq) in rows {
        w.row(&row(*id, *seq));
    }
    w.finish()
}

pub(crate) struct Copied {
    pub(crate) rows: u64,
    pub(crate) secs: f64,
}

/// Runs the prepared COPY streams one after the other (each its own transaction); only the
/// COPY statements are timed.
pub(crate) async fn copy_in(url: &str, table: &str, streams: &[Vec<u8>]) -> Copied {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let statement = format!("COPY {table} ({COLUMNS}) FROM STDIN (FORMAT binary)");
    let started = Instant::now();
    let mut rows = 0;
    for stream in streams {
        let mut copy = conn.copy_in_raw(&statement).await.expect("COPY");
        for chunk in stream.chunks(1 << 20) {
            copy.send(chunk).await.expect("COPY data");
        }
        rows += copy.finish().await.expect("COPY finish");
    }
    let secs = started.elapsed().as_secs_f64();
    conn.close().await.ok();
    Copied { rows, secs }
}
