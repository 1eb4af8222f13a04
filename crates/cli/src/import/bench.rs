//! `mingma bench import`: how fast `mingma import` stores signed evidence.
//!
//! A registered lab's test results, `lines` of them, each sealed with the lab's key,
//! are written once to a JSON Lines file (deterministic: the same `lines` give the
//! same bytes). Each run imports the file into a fresh SQLite store whose authority
//! acts register the lab (a bootstrap admin, a second admin, the lab's
//! registration and its confirmation), exactly as `mingma import` does, and times
//! it. Beside it, in the same process and the same runs: the same import with seal
//! checking turned off (possible only here), and the store alone (`Store::append` of
//! the same records, already made, in the same batches). Each figure is the median
//! of the runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use ed25519_dalek::SigningKey;
use mingma_authority::act::key_hex;
use mingma_authority::{sign, Act, ActBody, Grant, Role, SignedAct};
use mingma_core::{
    AuthorityId, DataSourceId, Evidence, EvidenceBody, Jurisdiction, NationalId, OfficialId,
    PseudonymKey, RecordId, Recorder, SourceKind, TestMethod, TestOutcome, Timestamp,
};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;

use super::{import, workers, Format, Options, CHUNK};
use crate::progress::Bar;

/// The benchmark's pseudonym key (public: the data are synthetic).
const KEY: [u8; 32] = *b"mingma-bench-import-pseudonym-k1";
const LAB: &str = "lab-bench";
const AUTHORITY: &str = "cdc-4101";

#[derive(Args)]
pub struct ImportBenchArgs {
    /// Signed lines to import.
    #[arg(long, default_value_t = 1_000_000)]
    lines: u64,
    /// Runs of each measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Working directory: the evidence file and the stores.
    #[arg(long, default_value = "target/bench/import")]
    dir: PathBuf,
}

fn seed_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn t(text: &str) -> Result<Timestamp> {
    Timestamp::parse(text).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The acts that register the lab: a bootstrap admin, a second admin, the lab's
/// registration by the first and its confirmation by the second.
async fn register<S: Store>(store: &S) -> Result<()> {
    let at = t("2022-01-01T00:00:00+08:00")?;
    let henan = Jurisdiction::parse("41").map_err(|e| anyhow::anyhow!("{e}"))?;
    let zhengzhou = Jurisdiction::parse("4101").map_err(|e| anyhow::anyhow!("{e}"))?;
    let official = |s: &str| OfficialId::parse(s).map_err(|e| anyhow::anyhow!("{e}"));
    let authority = |s: &str| AuthorityId::parse(s).map_err(|e| anyhow::anyhow!("{e}"));
    let act = |by: &str, seed: u8, act: Act| -> Result<Vec<u8>> {
        Ok(SignedAct::sign(
            ActBody {
                by: official(by)?,
                at,
                act,
            },
            &seed_key(seed),
        )
        .to_bytes())
    };
    for bytes in [
        act(
            "bench-admin-1",
            1,
            Act::Bootstrap {
                authority: authority("hc-41")?,
                authority_name: "河南省卫生健康委员会".into(),
                jurisdiction: henan,
                official: official("bench-admin-1")?,
                name: "bench admin 1".into(),
                key: key_hex(&seed_key(1).verifying_key()),
            },
        )?,
        act(
            "bench-admin-1",
            1,
            Act::AddOfficial {
                official: official("bench-admin-2")?,
                name: "bench admin 2".into(),
                authority: authority("hc-41")?,
            },
        )?,
        act(
            "bench-admin-1",
            1,
            Act::RegisterKey {
                official: official("bench-admin-2")?,
                key: key_hex(&seed_key(2).verifying_key()),
            },
        )?,
        act(
            "bench-admin-1",
            1,
            Act::GrantRole {
                official: official("bench-admin-2")?,
                grant: Grant {
                    role: Role::Admin,
                    jurisdiction: henan,
                },
            },
        )?,
        act(
            "bench-admin-1",
            1,
            Act::AddAuthority {
                authority: authority(AUTHORITY)?,
                name: "郑州市疾病预防控制中心".into(),
                name_en: None,
                jurisdiction: zhengzhou,
                contact: None,
            },
        )?,
    ] {
        store.append_act(bytes).await?;
    }
    let proposal = store
        .append_act(act(
            "bench-admin-1",
            1,
            Act::RegisterSource {
                source: DataSourceId::parse(LAB).map_err(|e| anyhow::anyhow!("{e}"))?,
                kind: SourceKind::Lab,
                authority: authority(AUTHORITY)?,
                name: "bench lab".into(),
                key: key_hex(&seed_key(3).verifying_key()),
            },
        )?)
        .await?;
    store
        .append_act(act("bench-admin-2", 2, Act::Confirm { proposal })?)
        .await?;
    Ok(())
}

/// The `i`-th person's ID number: Zhengzhou's Zhongyuan district, a birth date in
/// 1950-1979 and a sequence number, with its check character.
fn id_number(i: u64) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let day = i / 1000;
    let (year, month, date) = (1950 + (day / 336) % 30, 1 + (day / 28) % 12, 1 + day % 28);
    let mut text = format!("410102{year:04}{month:02}{date:02}{:03}", i % 1000);
    let sum: u32 = text
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    text.push(char::from(CHECK[(sum % 11) as usize]));
    text
}

/// The `i`-th test result (unsealed) and its line's fields.
fn test_result(i: u64, key: &PseudonymKey) -> Result<(Evidence, String)> {
    let base = 1_654_012_800; // 2022-06-01T00:00:00+08:00
    let at = |offset: i64| {
        Timestamp::from_unix_seconds(base + offset)
            .ok_or_else(|| anyhow::anyhow!("a time outside 2000-2099"))
    };
    let offset = i64::try_from(i % 2_000_000).unwrap_or_default();
    let (sampled, effective, recorded) = (at(offset)?, at(offset + 36_000)?, at(offset + 36_300)?);
    let id = format!("tr-{i:09}");
    let number = id_number(i);
    let subject = NationalId::parse(&number).map_err(|e| anyhow::anyhow!("{number}: {e}"))?;
    let outcome = if i % 1000 == 999 {
        TestOutcome::Positive
    } else {
        TestOutcome::Negative
    };
    let evidence = Evidence {
        id: RecordId::parse(&id).map_err(|e| anyhow::anyhow!("{e}"))?,
        subject: Some(key.person_key(&subject)),
        recorded_by: Recorder::Source {
            id: DataSourceId::parse(LAB).map_err(|e| anyhow::anyhow!("{e}"))?,
            kind: SourceKind::Lab,
        },
        authority: Some(AuthorityId::parse(AUTHORITY).map_err(|e| anyhow::anyhow!("{e}"))?),
        legal_basis: None,
        effective_at: effective,
        recorded_at: recorded,
        body: EvidenceBody::TestResult {
            method: TestMethod::NucleicAcid,
            outcome,
            sampled_at: sampled,
        },
        seal: None,
    };
    let line = format!(
        r#"{{"type":"test_result","id":"{id}","subject":"{number}","recorded_by":"source:{LAB}","authority":"{AUTHORITY}","effective_at":"{effective}","recorded_at":"{recorded}","method":"nucleic_acid","outcome":"{}","sampled_at":"{sampled}""#,
        outcome.name()
    );
    Ok((evidence, line))
}

/// Records `from..to`, sealed, and their lines, made on every core.
fn sealed_range(from: u64, to: u64, key: &PseudonymKey) -> Result<Vec<(Evidence, String)>> {
    let lab = seed_key(3);
    let items: Vec<u64> = (from..to).collect();
    super::parallel_map(items, workers(), |i| {
        test_result(i, key).map(|(mut evidence, mut line)| {
            let seal = sign(&evidence, &lab);
            line.push_str(&format!(r#","seal":"{seal}"}}"#));
            evidence.seal = Some(seal);
            (evidence, line)
        })
    })?
    .into_iter()
    .collect()
}

/// Writes the file of `lines` sealed test results, unless it is there.
fn write_file(path: &Path, lines: u64, key: &PseudonymKey, bar: &Bar) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    bar.phase("writing signed lines", Some(lines));
    let partial = path.with_extension("partial");
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?,
    );
    let step = CHUNK as u64;
    let mut from = 0;
    while from < lines {
        let to = (from + step).min(lines);
        for (_, line) in sealed_range(from, to, key)? {
            writeln!(out, "{line}")?;
        }
        bar.advance(to - from);
        from = to;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&partial, path)?;
    Ok(())
}

/// A fresh store with the lab registered.
async fn fresh_store(dir: &Path, name: &str) -> Result<(SqliteStore, PathBuf)> {
    let path = dir.join(name);
    remove_store(&path);
    let store =
        SqliteStore::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    register(&store).await?;
    Ok((store, path))
}

fn remove_store(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// Imports the file into a fresh store; lines per second.
async fn time_import(
    dir: &Path,
    file: &Path,
    lines: u64,
    check_seals: bool,
    bar: &Bar,
) -> Result<f64> {
    let (store, path) = fresh_store(dir, "import.sqlite").await?;
    let options = Options {
        check_seals,
        workers: workers(),
    };
    let mut refused = 0u64;
    let mut report = |e: &mingma_core::LineError, _: Option<&RecordId>| {
        refused += 1;
        if refused <= 3 {
            bar.println(&format!("line {}: {}", e.line, e.message));
        }
    };
    let started = Instant::now();
    let counts = import(
        &store,
        file,
        Format::Jsonl,
        PseudonymKey::from_bytes(KEY),
        &options,
        &mut report,
        Some(bar),
    )
    .await?;
    let elapsed = started.elapsed();
    drop(store);
    remove_store(&path);
    if counts.refused > 0 || counts.fresh != lines {
        bail!(
            "the benchmark's import stored {} of {lines} lines and refused {}",
            counts.fresh,
            counts.refused
        );
    }
    Ok(lines as f64 / elapsed.as_secs_f64())
}

/// Appends the same records straight to a fresh store, in the import's batches;
/// lines per second over the time spent in `append` (making the records is not
/// counted).
async fn time_append(dir: &Path, lines: u64, bar: &Bar) -> Result<f64> {
    let (store, path) = fresh_store(dir, "append.sqlite").await?;
    let key = PseudonymKey::from_bytes(KEY);
    bar.phase("Store::append alone", Some(lines));
    let mut spent = Duration::ZERO;
    let mut from = 0;
    while from < lines {
        let to = (from + CHUNK as u64).min(lines);
        let records: Vec<Evidence> = sealed_range(from, to, &key)?
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        let started = Instant::now();
        store.append(records).await?;
        spent += started.elapsed();
        bar.advance(to - from);
        from = to;
    }
    drop(store);
    remove_store(&path);
    Ok(lines as f64 / spent.as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Runs the benchmark and prints its table.
pub async fn run(args: &ImportBenchArgs) -> Result<()> {
    if args.lines == 0 || args.runs == 0 {
        bail!("--lines and --runs must be at least 1");
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let key = PseudonymKey::from_bytes(KEY);
    let file = args.dir.join(format!("signed-{}.jsonl", args.lines));
    let bar = Bar::new();
    write_file(&file, args.lines, &key, &bar)?;
    let (mut sealed, mut unsealed, mut append) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=args.runs {
        bar.phase(&format!("run {run}: import, seals checked"), None);
        sealed.push(time_import(&args.dir, &file, args.lines, true, &bar).await?);
        bar.phase(&format!("run {run}: import, no seal check"), None);
        unsealed.push(time_import(&args.dir, &file, args.lines, false, &bar).await?);
        append.push(time_append(&args.dir, args.lines, &bar).await?);
    }
    bar.finish();
    let show = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    println!(
        "{} signed test-result lines ({} MB), {} runs, {} worker threads",
        args.lines,
        std::fs::metadata(&file)
            .map(|m| m.len() / 1_000_000)
            .unwrap_or_default(),
        args.runs,
        workers()
    );
    println!();
    println!("| measurement | lines/s per run | median lines/s |");
    println!("|---|---|---|");
    let rows: [(&str, &mut Vec<f64>); 3] = [
        ("`mingma import`, every seal checked", &mut sealed),
        (
            "the same import, seal checks off (benchmark only)",
            &mut unsealed,
        ),
        (
            "`Store::append` of the same records alone (no file, no checks)",
            &mut append,
        ),
    ];
    for (name, values) in rows {
        let shown = show(values);
        println!("| {name} | {shown} | {:.0} |", median(values));
    }
    Ok(())
}
