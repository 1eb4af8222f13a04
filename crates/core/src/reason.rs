//! The closed catalogue of reasons a code may give (赋码原因).
//!
//! A rule set cannot invent reason text: it names a reason from this list, and the
//! list says what evidence that reason needs at the least. That is how the abused
//! 2022 reason — 正在实施集中或居家医学隔离观察的入境人员 — becomes impossible to show
//! without a customs-signed border entry and a quarantine order that references it.

use std::fmt;

use serde::Serialize;

use crate::evidence::{EvidenceKind, Presence, RiskLevel, SourceKind};

/// A reason from the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Confirmed or asymptomatic case under treatment or isolation.
    ConfirmedOrAsymptomaticCase,
    /// Suspected case under investigation.
    SuspectedCase,
    /// Positive test not yet cleared.
    PositiveTest,
    /// Close contact in quarantine.
    CloseContactQuarantine,
    /// Close contact in health monitoring after quarantine.
    CloseContactMonitoring,
    /// Inbound traveller in quarantine.
    InboundTravellerQuarantine,
    /// Inbound traveller in health monitoring after quarantine.
    InboundTravellerMonitoring,
    /// Recent stay in a high-risk area.
    HighRiskAreaStay,
    /// Recent stay in a medium-risk area.
    MediumRiskAreaStay,
    /// Health monitoring after discharge or recovery.
    AfterDischarge,
}

/// The least a rule must ask for before it may give a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// The evidence the rule fires on; `None` for a follow-on period.
    pub evidence: Option<EvidenceKind>,
    /// For each field, the values the rule may accept at most.
    pub fields: &'static [(&'static str, &'static [&'static str])],
    /// A quarantine order's ground: its kind and, if set, the kind of source that must
    /// have signed it.
    pub ground: Option<(EvidenceKind, Option<SourceKind>)>,
    /// For venue scans: the risk levels the rule may accept at most.
    pub risk_levels: &'static [RiskLevel],
    /// For venue scans: the weakest presence the rule may accept.
    pub min_presence: Option<Presence>,
    /// For a follow-on period: the reason of the period it follows.
    pub after: Option<Reason>,
}

const NONE: Requirement = Requirement {
    evidence: None,
    fields: &[],
    ground: None,
    risk_levels: &[],
    min_presence: None,
    after: None,
};

impl Reason {
    /// The whole catalogue.
    pub const ALL: [Reason; 10] = [
        Reason::ConfirmedOrAsymptomaticCase,
        Reason::SuspectedCase,
        Reason::PositiveTest,
        Reason::CloseContactQuarantine,
        Reason::CloseContactMonitoring,
        Reason::InboundTravellerQuarantine,
        Reason::InboundTravellerMonitoring,
        Reason::HighRiskAreaStay,
        Reason::MediumRiskAreaStay,
        Reason::AfterDischarge,
    ];

    /// The id a rule set uses.
    pub fn id(self) -> &'static str {
        match self {
            Reason::ConfirmedOrAsymptomaticCase => "confirmed_or_asymptomatic_case",
            Reason::SuspectedCase => "suspected_case",
            Reason::PositiveTest => "positive_test",
            Reason::CloseContactQuarantine => "close_contact_quarantine",
            Reason::CloseContactMonitoring => "close_contact_monitoring",
            Reason::InboundTravellerQuarantine => "inbound_traveller_quarantine",
            Reason::InboundTravellerMonitoring => "inbound_traveller_monitoring",
            Reason::HighRiskAreaStay => "high_risk_area_stay",
            Reason::MediumRiskAreaStay => "medium_risk_area_stay",
            Reason::AfterDischarge => "after_discharge",
        }
    }

    /// The reason with this id.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The text shown on a code page in Chinese.
    pub fn zh(self) -> &'static str {
        match self {
            Reason::ConfirmedOrAsymptomaticCase => "新冠肺炎确诊病例或无症状感染者，正在治疗或隔离",
            Reason::SuspectedCase => "疑似病例，正在排查",
            Reason::PositiveTest => "核酸或抗原检测结果阳性，尚未排除",
            Reason::CloseContactQuarantine => "密切接触者，正在实施隔离医学观察",
            Reason::CloseContactMonitoring => "密切接触者，隔离期满后健康监测",
            Reason::InboundTravellerQuarantine => "正在实施集中或居家医学隔离观察的入境人员",
            Reason::InboundTravellerMonitoring => "入境人员，隔离期满后健康监测",
            Reason::HighRiskAreaStay => "近期在高风险区域内停留",
            Reason::MediumRiskAreaStay => "近期在中风险区域内停留",
            Reason::AfterDischarge => "出院或解除隔离后健康监测期内",
        }
    }

    /// The text shown on a code page in English.
    pub fn en(self) -> &'static str {
        match self {
            Reason::ConfirmedOrAsymptomaticCase => {
                "Confirmed or asymptomatic case under treatment or isolation"
            }
            Reason::SuspectedCase => "Suspected case under investigation",
            Reason::PositiveTest => "Positive test result not yet cleared",
            Reason::CloseContactQuarantine => "Close contact under medical quarantine",
            Reason::CloseContactMonitoring => "Close contact in health monitoring after quarantine",
            Reason::InboundTravellerQuarantine => {
                "Inbound traveller under centralised or home medical quarantine"
            }
            Reason::InboundTravellerMonitoring => {
                "Inbound traveller in health monitoring after quarantine"
            }
            Reason::HighRiskAreaStay => "Recent stay in a high-risk area",
            Reason::MediumRiskAreaStay => "Recent stay in a medium-risk area",
            Reason::AfterDischarge => "Health monitoring after discharge or recovery",
        }
    }

    /// What a rule must ask for, at the least, to give this reason.
    pub fn requirement(self) -> Requirement {
        match self {
            Reason::ConfirmedOrAsymptomaticCase => Requirement {
                evidence: Some(EvidenceKind::CaseReport),
                fields: &[("classification", &["confirmed", "asymptomatic"])],
                ..NONE
            },
            Reason::SuspectedCase => Requirement {
                evidence: Some(EvidenceKind::CaseReport),
                fields: &[("classification", &["suspected"])],
                ..NONE
            },
            Reason::PositiveTest => Requirement {
                evidence: Some(EvidenceKind::TestResult),
                fields: &[("outcome", &["positive"])],
                ..NONE
            },
            Reason::CloseContactQuarantine => Requirement {
                evidence: Some(EvidenceKind::CloseContact),
                ..NONE
            },
            Reason::CloseContactMonitoring => Requirement {
                after: Some(Reason::CloseContactQuarantine),
                ..NONE
            },
            Reason::InboundTravellerQuarantine => Requirement {
                evidence: Some(EvidenceKind::QuarantineOrder),
                ground: Some((EvidenceKind::BorderEntry, Some(SourceKind::Customs))),
                ..NONE
            },
            Reason::InboundTravellerMonitoring => Requirement {
                after: Some(Reason::InboundTravellerQuarantine),
                ..NONE
            },
            Reason::HighRiskAreaStay => Requirement {
                evidence: Some(EvidenceKind::VenueScan),
                risk_levels: &[RiskLevel::High],
                min_presence: Some(Presence::StaticPoster),
                ..NONE
            },
            Reason::MediumRiskAreaStay => Requirement {
                evidence: Some(EvidenceKind::VenueScan),
                risk_levels: &[RiskLevel::Medium, RiskLevel::High],
                min_presence: Some(Presence::StaticPoster),
                ..NONE
            },
            Reason::AfterDischarge => Requirement {
                evidence: Some(EvidenceKind::CaseClosure),
                fields: &[("outcome", &["discharged", "recovered"])],
                ..NONE
            },
        }
    }
}

impl fmt::Display for Requirement {
    /// A sentence such as "evidence = quarantine_order, ground = border_entry signed
    /// by customs".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(after) = self.after {
            parts.push(format!("after = a rule with reason {}", after.id()));
        }
        if let Some(kind) = self.evidence {
            parts.push(format!("evidence = {kind}"));
        }
        for (field, values) in self.fields {
            parts.push(format!("where.{field} within {values:?}"));
        }
        if let Some((kind, source)) = self.ground {
            match source {
                Some(source) => parts.push(format!(
                    "ground = {{ evidence = {kind}, source = {} }}",
                    source.name()
                )),
                None => parts.push(format!("ground = {{ evidence = {kind} }}")),
            }
        }
        if !self.risk_levels.is_empty() {
            let levels: Vec<&str> = self.risk_levels.iter().map(|l| l.name()).collect();
            parts.push(format!("in_risk_area within {levels:?}"));
        }
        if let Some(presence) = self.min_presence {
            parts.push(format!("min_presence at least {presence}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// A reason as it appears in a decision: id and both texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReasonText {
    /// Catalogue id.
    pub id: &'static str,
    /// Chinese text.
    pub zh: &'static str,
    /// English text.
    pub en: &'static str,
}

impl From<Reason> for ReasonText {
    fn from(reason: Reason) -> Self {
        Self {
            id: reason.id(),
            zh: reason.zh(),
            en: reason.en(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_id(r.id()), Some(r));
        }
    }

    #[test]
    fn the_abused_text_belongs_to_the_inbound_reason_only() {
        let abused = "正在实施集中或居家医学隔离观察的入境人员";
        let owners: Vec<Reason> = Reason::ALL
            .into_iter()
            .filter(|r| r.zh() == abused)
            .collect();
        assert_eq!(owners, [Reason::InboundTravellerQuarantine]);
        let req = Reason::InboundTravellerQuarantine.requirement();
        assert_eq!(req.evidence, Some(EvidenceKind::QuarantineOrder));
        assert_eq!(
            req.ground,
            Some((EvidenceKind::BorderEntry, Some(SourceKind::Customs)))
        );
    }
}
