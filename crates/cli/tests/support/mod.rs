//! A store whose authority acts register Zhengzhou's authorities, officials and data
//! sources with known keys, and evidence lines sealed with those keys: what an
//! import needs to accept a record.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::SigningKey;
use mingma_authority::act::key_hex;
use mingma_authority::{sign, Act, ActBody, Grant, Role, SignedAct};
use mingma_core::{
    read_evidence_file, AuthorityId, DataSourceId, Jurisdiction, OfficialId, PseudonymKey,
    Recorder, SourceKind, Timestamp,
};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;
use serde_json::Value;

/// The pseudonym key the tests give `mingma import`.
pub const PSEUDONYM_KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

/// The registry lines of the example, as a file would carry them (an import checks
/// them against the acts; `read_evidence_file` needs them to seal lines).
pub const DIRECTORY: &str = r#"{"type":"authority","id":"hc-41","name":"河南省卫生健康委员会","jurisdiction":"41"}
{"type":"authority","id":"hc-4101","name":"郑州市卫生健康委员会","jurisdiction":"4101"}
{"type":"authority","id":"cdc-4101","name":"郑州市疾病预防控制中心","jurisdiction":"4101"}
{"type":"authority","id":"customs-4101","name":"郑州海关","jurisdiction":"4101"}
{"type":"official","id":"off-4101-zhao","authority":"hc-4101"}
{"type":"official","id":"off-4101-sun","authority":"hc-4101"}
{"type":"data_source","id":"customs-cgo","kind":"customs","authority":"customs-4101","name":"郑州新郑国际机场海关"}
{"type":"data_source","id":"lab-kingmed","kind":"lab","authority":"cdc-4101","name":"郑州金域检测"}
{"type":"data_source","id":"cdc-report","kind":"case_reporting","authority":"cdc-4101","name":"郑州市传染病网络直报"}
"#;

/// The key of a recorder (`official:<id>` or `source:<id>`), or of an admin.
pub fn key_of(who: &str) -> SigningKey {
    let seed: u8 = match who {
        "adm-1" => 1,
        "adm-2" => 2,
        "official:off-4101-zhao" => 3,
        "official:off-4101-sun" => 4,
        "source:customs-cgo" => 5,
        "source:lab-kingmed" => 6,
        "source:cdc-report" => 7,
        "official:off-41-wang" => 8,
        "official:off-41-li" => 9,
        _ => 99,
    };
    SigningKey::from_bytes(&[seed; 32])
}

fn t(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("a time")
}

fn id<T>(parse: fn(&str) -> Result<T, mingma_core::ids::IdError>, text: &str) -> T {
    parse(text).expect("an id")
}

/// Appends the acts registering the example's authorities, officials (with the
/// health-official role in Zhengzhou) and data sources (each confirmed by a second
/// admin) to the SQLite store at `db`.
pub fn register(db: &Path) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(db).expect("open");
        register_in(&store).await;
    });
}

/// [`register`] in any store.
pub async fn register_in<S: Store>(store: &S) {
    {
        let at = t("2022-01-01T00:00:00+08:00");
        let act = |by: &str, act: Act| {
            SignedAct::sign(
                ActBody {
                    by: id(OfficialId::parse, by),
                    at,
                    act,
                },
                &key_of(by),
            )
        };
        let henan = Jurisdiction::parse("41").expect("41");
        let zhengzhou = Jurisdiction::parse("4101").expect("4101");
        let mut acts = vec![
            act(
                "adm-1",
                Act::Bootstrap {
                    authority: id(AuthorityId::parse, "hc-41"),
                    authority_name: "河南省卫生健康委员会".into(),
                    jurisdiction: henan,
                    official: id(OfficialId::parse, "adm-1"),
                    name: "管理员一".into(),
                    key: key_hex(&key_of("adm-1").verifying_key()),
                },
            ),
            act(
                "adm-1",
                Act::AddOfficial {
                    official: id(OfficialId::parse, "adm-2"),
                    name: "管理员二".into(),
                    authority: id(AuthorityId::parse, "hc-41"),
                },
            ),
            act(
                "adm-1",
                Act::RegisterKey {
                    official: id(OfficialId::parse, "adm-2"),
                    key: key_hex(&key_of("adm-2").verifying_key()),
                },
            ),
            act(
                "adm-1",
                Act::GrantRole {
                    official: id(OfficialId::parse, "adm-2"),
                    grant: Grant {
                        role: Role::Admin,
                        jurisdiction: henan,
                    },
                },
            ),
        ];
        for (authority, name) in [
            ("hc-4101", "郑州市卫生健康委员会"),
            ("cdc-4101", "郑州市疾病预防控制中心"),
            ("customs-4101", "郑州海关"),
        ] {
            acts.push(act(
                "adm-1",
                Act::AddAuthority {
                    authority: id(AuthorityId::parse, authority),
                    name: name.into(),
                    name_en: None,
                    jurisdiction: zhengzhou,
                    contact: None,
                },
            ));
        }
        for (official, authority, place) in [
            ("off-41-wang", "hc-41", henan),
            ("off-41-li", "hc-41", henan),
            ("off-4101-zhao", "hc-4101", zhengzhou),
            ("off-4101-sun", "hc-4101", zhengzhou),
        ] {
            acts.push(act(
                "adm-1",
                Act::AddOfficial {
                    official: id(OfficialId::parse, official),
                    name: official.into(),
                    authority: id(AuthorityId::parse, authority),
                },
            ));
            acts.push(act(
                "adm-1",
                Act::RegisterKey {
                    official: id(OfficialId::parse, official),
                    key: key_hex(&key_of(&format!("official:{official}")).verifying_key()),
                },
            ));
            acts.push(act(
                "adm-1",
                Act::GrantRole {
                    official: id(OfficialId::parse, official),
                    grant: Grant {
                        role: Role::HealthOfficial,
                        jurisdiction: place,
                    },
                },
            ));
        }
        for act in acts {
            store.append_act(act.to_bytes()).await.expect("act");
        }
        for (source, kind, authority) in [
            ("customs-cgo", SourceKind::Customs, "customs-4101"),
            ("lab-kingmed", SourceKind::Lab, "cdc-4101"),
            ("cdc-report", SourceKind::CaseReporting, "cdc-4101"),
        ] {
            let proposal = store
                .append_act(
                    act(
                        "adm-1",
                        Act::RegisterSource {
                            source: id(DataSourceId::parse, source),
                            kind,
                            authority: id(AuthorityId::parse, authority),
                            name: source.into(),
                            key: key_hex(&key_of(&format!("source:{source}")).verifying_key()),
                        },
                    )
                    .to_bytes(),
                )
                .await
                .expect("act");
            store
                .append_act(act("adm-2", Act::Confirm { proposal }).to_bytes())
                .await
                .expect("act");
        }
        let registry = mingma_authority::Registry::replay(store.acts(0).await.expect("acts"));
        assert!(registry.problems.is_empty(), "{:?}", registry.problems);
        assert_eq!(registry.directory.sources.len(), 3);
    }
}

/// Leaves the acts of [`register`] take.
pub const ACTS: u64 = 25;

/// The example's records that an import refuses whatever their seal: the hand-made
/// "border entry" (nobody records one by hand) and what rests on it.
const HAND_MADE_ENTRY: [&str; 4] = [
    "be-manual-0613",
    "ap-manual-0613-a",
    "qo-manual-0613",
    "ap-manual-0613-b",
];

/// Records of [`sealed_example`].
pub const EXAMPLE_RECORDS: u64 = 12;

/// `examples/zhengzhou-2022.jsonl` with every record of an official or a source
/// sealed by its key, without the hand-made border entry and the records resting
/// on it, written to `path`.
pub fn sealed_example(path: &Path) {
    std::fs::write(path, seal_lines(&example_lines()).join("\n") + "\n").expect("write");
}

/// The lines of `examples/zhengzhou-2022.jsonl` but the hand-made border entry and
/// the records resting on it, unsealed.
pub fn example_lines() -> Vec<String> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/zhengzhou-2022.jsonl");
    let text = std::fs::read_to_string(example).expect("the example");
    text.lines()
        .filter(|l| {
            !HAND_MADE_ENTRY
                .iter()
                .any(|id| l.contains(&format!("\"id\":\"{id}\"")))
        })
        .map(str::to_owned)
        .collect()
}

/// `lines` (records that name the [`DIRECTORY`]'s entries, one per line), each
/// record by an official or a source sealed with its key. The lines must make a
/// valid evidence file with the directory.
pub fn seal_lines(lines: &[String]) -> Vec<String> {
    let key = PseudonymKey::parse_hex(PSEUDONYM_KEY).expect("key");
    let text = format!("{DIRECTORY}{}", lines.join("\n"));
    // (The lines may repeat the directory's entries: the same entry twice is one.)
    let file = match read_evidence_file(&text, &key) {
        Ok(file) => file,
        Err(errors) => panic!("the lines to seal are not valid: {errors:?}"),
    };
    let records: BTreeMap<String, _> = file.records.iter().map(|r| (r.id.to_string(), r)).collect();
    lines
        .iter()
        .map(|line| {
            let Ok(mut object) = serde_json::from_str::<serde_json::Map<String, Value>>(line)
            else {
                // Comments and blank lines stay as they are.
                return line.clone();
            };
            let Some(record) = object
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| records.get(id))
                .filter(|_| object.get("type").and_then(Value::as_str) != Some("venue"))
            else {
                return line.clone();
            };
            let who = match &record.recorded_by {
                Recorder::Official(o) => format!("official:{o}"),
                Recorder::Source { id, .. } => format!("source:{id}"),
                _ => return line.clone(),
            };
            let seal = sign(record, &key_of(&who));
            object.insert("seal".into(), Value::String(seal.to_string()));
            Value::Object(object).to_string()
        })
        .collect()
}
