//! Evidence: the only thing a code is ever derived from.
//!
//! Every record carries its envelope — id, subject, who recorded it, the owning
//! authority, the legal basis, the time it takes effect and the time it was recorded —
//! and a typed body. There is deliberately no "other" type: a rule can only ever be
//! conditioned on one of the kinds below (principle 3).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::division::Jurisdiction;
use crate::identity::PersonKey;
use crate::ids::{AuthorityId, DataSourceId, OfficialId, RecordId, VenueId};
use crate::time::Timestamp;

/// One evidence record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Unique id of the record.
    pub id: RecordId,
    /// The person the record is about; `None` for records about no one person
    /// (risk-area declarations) and for acts on other records (retraction, approval,
    /// rejection), whose subject is that of their target.
    pub subject: Option<PersonKey>,
    /// Who entered the record.
    pub recorded_by: Recorder,
    /// The authority that owns the record (赋码来源 when it decides a code). `None`
    /// only for venue scans, which the holder's own phone records.
    pub authority: Option<AuthorityId>,
    /// The legal basis the authority relies on; required for orders, designations
    /// and declarations (see [`EvidenceKind::needs_legal_basis`]).
    pub legal_basis: Option<String>,
    /// When the fact takes effect: sample result time, entry time, order start,
    /// declaration time, scan time.
    pub effective_at: Timestamp,
    /// When the platform learned of it. Derivation "as known at T" ignores records
    /// with `recorded_at > T`.
    pub recorded_at: Timestamp,
    /// What the record says.
    pub body: EvidenceBody,
    /// The signature of whoever vouches for the record (an official's personal key,
    /// a data source's registered key); `None` for the holder's own scans. It covers
    /// the canonical bytes, which leave it out. This crate only carries it:
    /// `mingma-authority` checks it against the registered keys.
    pub seal: Option<Seal>,
}

/// A signature on a record: the id of the key that made it and the Ed25519
/// signature bytes. Written `<16 hex digits>.<128 hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Seal {
    /// The first 8 bytes of SHA-256 over the signing key's public key.
    pub key: [u8; 8],
    /// The signature.
    pub signature: [u8; 64],
}

impl Seal {
    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Seal, String> {
        let bad = || format!("a seal is `<16 hex digits>.<128 hex digits>`, not {text:?}");
        let (key_text, signature_text) = text.split_once('.').ok_or_else(bad)?;
        let mut seal = Seal {
            key: [0; 8],
            signature: [0; 64],
        };
        crate::hex::fill_from_hex(key_text, &mut seal.key).map_err(|_| bad())?;
        crate::hex::fill_from_hex(signature_text, &mut seal.signature).map_err(|_| bad())?;
        Ok(seal)
    }

    /// The 72 bytes stored: key id then signature.
    pub fn to_bytes(&self) -> [u8; 72] {
        let mut out = [0; 72];
        out[..8].copy_from_slice(&self.key);
        out[8..].copy_from_slice(&self.signature);
        out
    }

    /// Reads [`Seal::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Option<Seal> {
        let (key, signature) = (bytes.get(..8)?, bytes.get(8..)?);
        Some(Seal {
            key: key.try_into().ok()?,
            signature: signature.try_into().ok()?,
        })
    }
}

impl fmt::Display for Seal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.key {
            write!(f, "{b:02x}")?;
        }
        f.write_str(".")?;
        for b in self.signature {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Seal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seal({self})")
    }
}

/// Who entered a record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Recorder {
    /// An official, by hand, signing with a personal key (a manual record).
    Official(OfficialId),
    /// A registered external system, signing with its registered key.
    Source {
        /// The registered data source.
        id: DataSourceId,
        /// What kind of source it is.
        kind: SourceKind,
    },
    /// The holder's own phone (venue scans).
    Holder,
    /// A proxy's phone acting for the holder (a family member or community worker).
    Proxy(PersonKey),
}

impl Recorder {
    /// Whether this is a manual entry by an official.
    pub fn is_official(&self) -> bool {
        matches!(self, Recorder::Official(_))
    }

    /// The kind of signed source, if the record came from one.
    pub fn source_kind(&self) -> Option<SourceKind> {
        match self {
            Recorder::Source { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

impl fmt::Display for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recorder::Official(id) => write!(f, "official:{id}"),
            Recorder::Source { id, .. } => write!(f, "source:{id}"),
            Recorder::Holder => f.write_str("holder"),
            Recorder::Proxy(key) => write!(f, "proxy:{}", key.short()),
        }
    }
}

/// The kind of an external data source, which fixes what it may submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A testing laboratory: test results.
    Lab,
    /// A customs post: border entries.
    Customs,
    /// A case-reporting unit (hospital, CDC): case reports and closures.
    CaseReporting,
}

impl SourceKind {
    /// Every kind, for validation messages and generators.
    pub const ALL: [SourceKind; 3] = [
        SourceKind::Lab,
        SourceKind::Customs,
        SourceKind::CaseReporting,
    ];

    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Lab => "lab",
            SourceKind::Customs => "customs",
            SourceKind::CaseReporting => "case_reporting",
        }
    }

    /// Whether a source of this kind may submit records of `kind`. Every source may
    /// retract records of its own authority (a lab withdrawing a wrong result).
    pub fn may_submit(self, kind: EvidenceKind) -> bool {
        kind == EvidenceKind::Retraction
            || matches!(
                (self, kind),
                (SourceKind::Lab, EvidenceKind::TestResult)
                    | (SourceKind::Customs, EvidenceKind::BorderEntry)
                    | (
                        SourceKind::CaseReporting,
                        EvidenceKind::CaseReport | EvidenceKind::CaseClosure
                    )
            )
    }
}

/// What a record says, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceBody {
    /// A nucleic-acid or antigen test result.
    TestResult {
        /// Nucleic acid (PCR) or antigen.
        method: TestMethod,
        /// Positive or negative.
        outcome: TestOutcome,
        /// When the sample was taken (the effective time is when the result was known).
        sampled_at: Timestamp,
    },
    /// A case report.
    CaseReport {
        /// Confirmed, asymptomatic or suspected.
        classification: CaseClass,
        /// The positive test the report rests on, if any.
        test: Option<RecordId>,
    },
    /// The end of a case.
    CaseClosure {
        /// The case report it closes.
        case: RecordId,
        /// Discharged, recovered or ruled out.
        outcome: ClosureOutcome,
    },
    /// A close-contact designation made by a tracing team.
    CloseContact {
        /// The case report of the person the subject was in contact with.
        case: RecordId,
        /// How the contact happened.
        exposure: Exposure,
    },
    /// An entry into the country, recorded by customs.
    BorderEntry {
        /// Port of entry (e.g. 郑州新郑国际机场).
        port: String,
        /// Country or region of departure.
        origin: String,
        /// The traveller's name as the travel document reads (optional): what a
        /// reviewer compares with the holder's when the entry is disputed.
        name: Option<String>,
        /// The travel document customs read (type and number, e.g. `护照 E12345678`;
        /// optional).
        document: Option<String>,
    },
    /// A quarantine order; it must name its ground.
    QuarantineOrder {
        /// Centralised (facility) or at home.
        setting: QuarantineSetting,
        /// The facility, for centralised quarantine.
        facility: Option<String>,
        /// The record that justifies the order: a border entry, a close-contact
        /// designation or a case report of the same person.
        ground: RecordId,
        /// The end the order plans; the rule set decides how long the code is red.
        planned_end: Timestamp,
    },
    /// The release from a quarantine order.
    QuarantineRelease {
        /// The order released.
        order: RecordId,
    },
    /// A risk-area declaration.
    RiskArea {
        /// High or medium.
        level: RiskLevel,
        /// Where.
        area: RiskAreaScope,
        /// Start of the declared window.
        from: Timestamp,
        /// End of the declared window (exclusive).
        until: Timestamp,
    },
    /// A venue check-in.
    VenueScan {
        /// The venue scanned.
        venue: VenueId,
        /// The venue's street at the time of the scan.
        street: Jurisdiction,
        /// The venue's kind, which sets the dwell time when no exit is recorded.
        venue_kind: VenueKind,
        /// When the person left, if recorded.
        left_at: Option<Timestamp>,
        /// How strongly presence is assured.
        presence: Presence,
    },
    /// The retraction of an earlier record; the original stays in the log.
    Retraction {
        /// The record retracted.
        target: RecordId,
        /// Why.
        reason: String,
    },
    /// A second official's approval of a manual record (two-person rule).
    Approval {
        /// The record approved.
        target: RecordId,
    },
    /// A second official's rejection of a manual record.
    Rejection {
        /// The record rejected.
        target: RecordId,
        /// Why.
        reason: String,
    },
}

/// The type of a record, without its contents: what rules are typed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// See [`EvidenceBody::TestResult`].
    TestResult,
    /// See [`EvidenceBody::CaseReport`].
    CaseReport,
    /// See [`EvidenceBody::CaseClosure`].
    CaseClosure,
    /// See [`EvidenceBody::CloseContact`].
    CloseContact,
    /// See [`EvidenceBody::BorderEntry`].
    BorderEntry,
    /// See [`EvidenceBody::QuarantineOrder`].
    QuarantineOrder,
    /// See [`EvidenceBody::QuarantineRelease`].
    QuarantineRelease,
    /// See [`EvidenceBody::RiskArea`].
    RiskArea,
    /// See [`EvidenceBody::VenueScan`].
    VenueScan,
    /// See [`EvidenceBody::Retraction`].
    Retraction,
    /// See [`EvidenceBody::Approval`].
    Approval,
    /// See [`EvidenceBody::Rejection`].
    Rejection,
}

impl EvidenceKind {
    /// Every kind.
    pub const ALL: [EvidenceKind; 12] = [
        EvidenceKind::TestResult,
        EvidenceKind::CaseReport,
        EvidenceKind::CaseClosure,
        EvidenceKind::CloseContact,
        EvidenceKind::BorderEntry,
        EvidenceKind::QuarantineOrder,
        EvidenceKind::QuarantineRelease,
        EvidenceKind::RiskArea,
        EvidenceKind::VenueScan,
        EvidenceKind::Retraction,
        EvidenceKind::Approval,
        EvidenceKind::Rejection,
    ];

    /// Its place in [`EvidenceKind::ALL`] (an exhaustive match: a new kind cannot
    /// be left without one).
    pub const fn index(self) -> usize {
        match self {
            EvidenceKind::TestResult => 0,
            EvidenceKind::CaseReport => 1,
            EvidenceKind::CaseClosure => 2,
            EvidenceKind::CloseContact => 3,
            EvidenceKind::BorderEntry => 4,
            EvidenceKind::QuarantineOrder => 5,
            EvidenceKind::QuarantineRelease => 6,
            EvidenceKind::RiskArea => 7,
            EvidenceKind::VenueScan => 8,
            EvidenceKind::Retraction => 9,
            EvidenceKind::Approval => 10,
            EvidenceKind::Rejection => 11,
        }
    }

    /// The name used in files (`test_result`, `quarantine_order`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EvidenceKind::TestResult => "test_result",
            EvidenceKind::CaseReport => "case_report",
            EvidenceKind::CaseClosure => "case_closure",
            EvidenceKind::CloseContact => "close_contact",
            EvidenceKind::BorderEntry => "border_entry",
            EvidenceKind::QuarantineOrder => "quarantine_order",
            EvidenceKind::QuarantineRelease => "quarantine_release",
            EvidenceKind::RiskArea => "risk_area",
            EvidenceKind::VenueScan => "venue_scan",
            EvidenceKind::Retraction => "retraction",
            EvidenceKind::Approval => "approval",
            EvidenceKind::Rejection => "rejection",
        }
    }

    /// The kind with this file name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Chinese name, for explanations.
    pub fn label_zh(self) -> &'static str {
        match self {
            EvidenceKind::TestResult => "检测结果",
            EvidenceKind::CaseReport => "病例报告",
            EvidenceKind::CaseClosure => "病例结案",
            EvidenceKind::CloseContact => "密切接触者判定",
            EvidenceKind::BorderEntry => "入境记录",
            EvidenceKind::QuarantineOrder => "隔离决定",
            EvidenceKind::QuarantineRelease => "解除隔离",
            EvidenceKind::RiskArea => "风险区域公告",
            EvidenceKind::VenueScan => "场所扫码",
            EvidenceKind::Retraction => "撤销",
            EvidenceKind::Approval => "复核批准",
            EvidenceKind::Rejection => "复核驳回",
        }
    }

    /// English name, for explanations.
    pub fn label_en(self) -> &'static str {
        match self {
            EvidenceKind::TestResult => "test result",
            EvidenceKind::CaseReport => "case report",
            EvidenceKind::CaseClosure => "case closure",
            EvidenceKind::CloseContact => "close-contact designation",
            EvidenceKind::BorderEntry => "border entry",
            EvidenceKind::QuarantineOrder => "quarantine order",
            EvidenceKind::QuarantineRelease => "quarantine release",
            EvidenceKind::RiskArea => "risk-area declaration",
            EvidenceKind::VenueScan => "venue scan",
            EvidenceKind::Retraction => "retraction",
            EvidenceKind::Approval => "approval",
            EvidenceKind::Rejection => "rejection",
        }
    }

    /// Whether records of this kind must state a legal basis.
    pub fn needs_legal_basis(self) -> bool {
        matches!(
            self,
            EvidenceKind::CloseContact | EvidenceKind::QuarantineOrder | EvidenceKind::RiskArea
        )
    }

    /// Whether records of this kind are about one person (have a subject).
    pub fn has_subject(self) -> bool {
        !matches!(
            self,
            EvidenceKind::RiskArea
                | EvidenceKind::Retraction
                | EvidenceKind::Approval
                | EvidenceKind::Rejection
        )
    }

    /// Kinds that always need a second official's approval, whoever records them:
    /// the acts of the tracing and quarantine teams and of risk declarations.
    pub fn always_needs_approval(self) -> bool {
        matches!(
            self,
            EvidenceKind::CloseContact | EvidenceKind::QuarantineOrder | EvidenceKind::RiskArea
        )
    }

    /// Kinds that can raise a code's colour when they appear.
    pub fn can_raise_colour(self) -> bool {
        matches!(
            self,
            EvidenceKind::TestResult
                | EvidenceKind::CaseReport
                | EvidenceKind::CloseContact
                | EvidenceKind::BorderEntry
                | EvidenceKind::QuarantineOrder
                | EvidenceKind::RiskArea
                | EvidenceKind::VenueScan
        )
    }
}

impl fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! value_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in files.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value with this file name.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name() == name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

value_enum!(
    /// How a sample was tested.
    TestMethod { /** PCR. */ NucleicAcid = "nucleic_acid", /** Rapid antigen. */ Antigen = "antigen" }
);
value_enum!(
    /// A test's result.
    TestOutcome { /** Positive. */ Positive = "positive", /** Negative. */ Negative = "negative" }
);
value_enum!(
    /// A case's classification.
    CaseClass {
        /// 确诊病例.
        Confirmed = "confirmed",
        /// 无症状感染者.
        Asymptomatic = "asymptomatic",
        /// 疑似病例.
        Suspected = "suspected",
    }
);
value_enum!(
    /// How a case ended.
    ClosureOutcome {
        /// 出院 (discharged from hospital).
        Discharged = "discharged",
        /// 解除隔离 (recovered, released from isolation).
        Recovered = "recovered",
        /// 排除 (ruled out: the suspicion was not confirmed).
        RuledOut = "ruled_out",
    }
);
value_enum!(
    /// Where a quarantine is served.
    QuarantineSetting { /** 集中隔离. */ Centralised = "centralised", /** 居家隔离. */ Home = "home" }
);
value_enum!(
    /// A declared risk level.
    RiskLevel { /** 中风险. */ Medium = "medium", /** 高风险. */ High = "high" }
);
value_enum!(
    /// How strongly a venue scan assures presence (principle 6), weakest first.
    Presence {
        /// A stale or replayed token: a forwarded photo of a code.
        Stale = "stale",
        /// The static code printed on the venue's poster.
        StaticPoster = "static_poster",
        /// A fresh scan of the rotating code on the venue's screen.
        Rotating = "rotating",
    }
);
value_enum!(
    /// The kind of a venue, which sets the assumed dwell time.
    VenueKind {
        /// Station, airport, bus terminal.
        TransportHub = "transport_hub",
        /// Market, supermarket, mall.
        Market = "market",
        /// Office building, workplace.
        Office = "office",
        /// School or university.
        School = "school",
        /// Hospital or clinic.
        Hospital = "hospital",
        /// Restaurant.
        Restaurant = "restaurant",
        /// Residential compound gate.
        Residential = "residential",
        /// Any other public place.
        Other = "other",
    }
);

/// How a close contact happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// Same household as the case.
    Household,
    /// Same venue at overlapping times.
    Venue {
        /// The venue.
        venue: VenueId,
        /// Start of the overlap.
        from: Timestamp,
        /// End of the overlap.
        until: Timestamp,
        /// The scans that show the overlap (the contact's and the case's).
        scans: Vec<RecordId>,
    },
}

/// Where a risk area lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskAreaScope {
    /// Whole divisions (a district, a street, ...).
    Divisions(Vec<Jurisdiction>),
    /// A list of venues.
    Venues(Vec<VenueId>),
}

impl RiskAreaScope {
    /// Whether a venue with this id on this street lies in the area.
    pub fn covers(&self, venue: &VenueId, street: Jurisdiction) -> bool {
        match self {
            RiskAreaScope::Divisions(divisions) => divisions.iter().any(|d| d.contains(street)),
            RiskAreaScope::Venues(venues) => venues.contains(venue),
        }
    }
}

/// The role a reference plays, and what it may point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceRole {
    /// A case report's positive test.
    CaseTest,
    /// The case a closure closes.
    ClosedCase,
    /// The case a close contact was in contact with.
    ContactCase,
    /// A scan showing a venue exposure.
    ExposureScan,
    /// A quarantine order's ground.
    Ground,
    /// The order a release releases.
    ReleasedOrder,
    /// The record a retraction takes back.
    Retracted,
    /// The record an approval or rejection decides on.
    Decided,
}

impl ReferenceRole {
    /// The field name in files.
    pub fn field(self) -> &'static str {
        match self {
            ReferenceRole::CaseTest => "test",
            ReferenceRole::ClosedCase | ReferenceRole::ContactCase => "case",
            ReferenceRole::ExposureScan => "exposure.scans",
            ReferenceRole::Ground => "ground",
            ReferenceRole::ReleasedOrder => "order",
            ReferenceRole::Retracted | ReferenceRole::Decided => "target",
        }
    }

    /// Whether the referenced record may be of `kind`.
    pub fn accepts(self, kind: EvidenceKind) -> bool {
        use EvidenceKind as K;
        match self {
            ReferenceRole::CaseTest => kind == K::TestResult,
            ReferenceRole::ClosedCase | ReferenceRole::ContactCase => kind == K::CaseReport,
            ReferenceRole::ExposureScan => kind == K::VenueScan,
            ReferenceRole::Ground => {
                matches!(kind, K::BorderEntry | K::CloseContact | K::CaseReport)
            }
            ReferenceRole::ReleasedOrder => kind == K::QuarantineOrder,
            // Acts are final: approvals, rejections and retractions are never
            // retracted or decided on; a correction is a new record.
            ReferenceRole::Retracted | ReferenceRole::Decided => {
                !matches!(kind, K::Retraction | K::Approval | K::Rejection)
                    || (self == ReferenceRole::Decided && kind == K::Retraction)
            }
        }
    }

    /// Whether the referenced record must be about the same person.
    pub fn same_subject(self) -> bool {
        matches!(
            self,
            ReferenceRole::CaseTest
                | ReferenceRole::ClosedCase
                | ReferenceRole::Ground
                | ReferenceRole::ReleasedOrder
        )
    }
}

impl Evidence {
    /// The record's type.
    pub fn kind(&self) -> EvidenceKind {
        self.body.kind()
    }

    /// Whether this record, to count, needs a second official's approval, given the
    /// record it acts on (for a retraction).
    ///
    /// A record needs approval when it is a designation, order or declaration, or when
    /// an official entered it by hand and it could raise a colour: it is evidence that
    /// raises a colour, or it retracts a record that ended or cleared a red or yellow
    /// period (a negative test, a case closure, a quarantine release).
    pub fn needs_approval(&self, target: Option<&Evidence>) -> bool {
        let kind = self.kind();
        if kind.always_needs_approval() {
            return true;
        }
        if !self.recorded_by.is_official() {
            return false;
        }
        match kind {
            EvidenceKind::Retraction => target.is_some_and(Evidence::can_lower_colour),
            other => other.can_raise_colour(),
        }
    }

    /// Whether this record can end or clear a red or yellow period, so that taking it
    /// away could raise a colour.
    pub fn can_lower_colour(&self) -> bool {
        matches!(
            self.body,
            EvidenceBody::TestResult {
                outcome: TestOutcome::Negative,
                ..
            } | EvidenceBody::CaseClosure { .. }
                | EvidenceBody::QuarantineRelease { .. }
        )
    }

    /// The records this one refers to, with the role of each reference.
    pub fn references(&self) -> Vec<(ReferenceRole, &RecordId)> {
        match &self.body {
            EvidenceBody::CaseReport { test, .. } => {
                test.iter().map(|t| (ReferenceRole::CaseTest, t)).collect()
            }
            EvidenceBody::CaseClosure { case, .. } => vec![(ReferenceRole::ClosedCase, case)],
            EvidenceBody::CloseContact { case, exposure } => {
                let mut refs = vec![(ReferenceRole::ContactCase, case)];
                if let Exposure::Venue { scans, .. } = exposure {
                    refs.extend(scans.iter().map(|s| (ReferenceRole::ExposureScan, s)));
                }
                refs
            }
            EvidenceBody::QuarantineOrder { ground, .. } => vec![(ReferenceRole::Ground, ground)],
            EvidenceBody::QuarantineRelease { order } => {
                vec![(ReferenceRole::ReleasedOrder, order)]
            }
            EvidenceBody::Retraction { target, .. } => vec![(ReferenceRole::Retracted, target)],
            EvidenceBody::Approval { target } | EvidenceBody::Rejection { target, .. } => {
                vec![(ReferenceRole::Decided, target)]
            }
            EvidenceBody::TestResult { .. }
            | EvidenceBody::BorderEntry { .. }
            | EvidenceBody::RiskArea { .. }
            | EvidenceBody::VenueScan { .. } => Vec::new(),
        }
    }
}

impl EvidenceBody {
    /// The record's type.
    pub fn kind(&self) -> EvidenceKind {
        match self {
            EvidenceBody::TestResult { .. } => EvidenceKind::TestResult,
            EvidenceBody::CaseReport { .. } => EvidenceKind::CaseReport,
            EvidenceBody::CaseClosure { .. } => EvidenceKind::CaseClosure,
            EvidenceBody::CloseContact { .. } => EvidenceKind::CloseContact,
            EvidenceBody::BorderEntry { .. } => EvidenceKind::BorderEntry,
            EvidenceBody::QuarantineOrder { .. } => EvidenceKind::QuarantineOrder,
            EvidenceBody::QuarantineRelease { .. } => EvidenceKind::QuarantineRelease,
            EvidenceBody::RiskArea { .. } => EvidenceKind::RiskArea,
            EvidenceBody::VenueScan { .. } => EvidenceKind::VenueScan,
            EvidenceBody::Retraction { .. } => EvidenceKind::Retraction,
            EvidenceBody::Approval { .. } => EvidenceKind::Approval,
            EvidenceBody::Rejection { .. } => EvidenceKind::Rejection,
        }
    }

    /// The value of a categorical field that rules may test, e.g.
    /// `field("classification")` of a case report is `Some("confirmed")`.
    /// The fields each kind offers are listed by [`condition_fields`].
    pub fn field(&self, name: &str) -> Option<&'static str> {
        match (self, name) {
            (EvidenceBody::TestResult { method, .. }, "method") => Some(method.name()),
            (EvidenceBody::TestResult { outcome, .. }, "outcome") => Some(outcome.name()),
            (EvidenceBody::CaseReport { classification, .. }, "classification") => {
                Some(classification.name())
            }
            (EvidenceBody::CaseClosure { outcome, .. }, "outcome") => Some(outcome.name()),
            (EvidenceBody::CloseContact { exposure, .. }, "exposure") => Some(match exposure {
                Exposure::Household => "household",
                Exposure::Venue { .. } => "venue",
            }),
            (EvidenceBody::QuarantineOrder { setting, .. }, "setting") => Some(setting.name()),
            (EvidenceBody::VenueScan { venue_kind, .. }, "venue_kind") => Some(venue_kind.name()),
            _ => None,
        }
    }
}

/// The categorical fields rules may test on records of `kind`, with their values.
/// Nothing else about a record, and nothing about a person, is available to rules.
pub fn condition_fields(kind: EvidenceKind) -> &'static [(&'static str, &'static [&'static str])] {
    match kind {
        EvidenceKind::TestResult => &[
            ("method", &["nucleic_acid", "antigen"]),
            ("outcome", &["positive", "negative"]),
        ],
        EvidenceKind::CaseReport => &[(
            "classification",
            &["confirmed", "asymptomatic", "suspected"],
        )],
        EvidenceKind::CaseClosure => &[("outcome", &["discharged", "recovered", "ruled_out"])],
        EvidenceKind::CloseContact => &[("exposure", &["household", "venue"])],
        EvidenceKind::QuarantineOrder => &[("setting", &["centralised", "home"])],
        EvidenceKind::VenueScan => &[(
            "venue_kind",
            &[
                "transport_hub",
                "market",
                "office",
                "school",
                "hospital",
                "restaurant",
                "residential",
                "other",
            ],
        )],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_field_value_is_a_real_value() {
        // The static list and the enums must agree; a rule that passes validation
        // must be able to match.
        assert_eq!(
            condition_fields(EvidenceKind::VenueScan)[0].1.len(),
            VenueKind::ALL.len()
        );
        for v in VenueKind::ALL {
            assert!(condition_fields(EvidenceKind::VenueScan)[0]
                .1
                .contains(&v.name()));
        }
        for c in CaseClass::ALL {
            assert!(condition_fields(EvidenceKind::CaseReport)[0]
                .1
                .contains(&c.name()));
        }
        for o in ClosureOutcome::ALL {
            assert!(condition_fields(EvidenceKind::CaseClosure)[0]
                .1
                .contains(&o.name()));
        }
        for (i, k) in EvidenceKind::ALL.into_iter().enumerate() {
            assert_eq!(EvidenceKind::from_name(k.name()), Some(k));
            assert_eq!(k.index(), i, "{k:?}");
        }
    }

    #[test]
    fn presence_is_ordered_weakest_first() {
        assert!(Presence::Stale < Presence::StaticPoster);
        assert!(Presence::StaticPoster < Presence::Rotating);
    }

    #[test]
    fn sources_submit_only_their_own_kinds() {
        assert!(SourceKind::Customs.may_submit(EvidenceKind::BorderEntry));
        assert!(!SourceKind::Customs.may_submit(EvidenceKind::QuarantineOrder));
        assert!(!SourceKind::Lab.may_submit(EvidenceKind::BorderEntry));
        assert!(SourceKind::CaseReporting.may_submit(EvidenceKind::CaseClosure));
    }
}
