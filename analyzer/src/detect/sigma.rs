//! Sigma rules for Linux, evaluated on the same facts as Rewind's rules.
//! (Being written: until then `--sigma` is refused with a clear error.)

use super::fact::Fact;
use super::rule::RuleMeta;
use super::ExternalRules;
use rewind_schema::event::RecordType;
use std::path::Path;

/// A loaded set of Sigma rules.
#[derive(Debug, Default)]
pub struct SigmaRules {
    metas: Vec<RuleMeta>,
    skipped: Vec<(String, String)>,
}

impl SigmaRules {
    /// Loads every rule under `dir`.
    pub fn load_dir(dir: &Path) -> anyhow::Result<Self> {
        anyhow::bail!(
            "{}: Sigma evaluation is not available in this build yet",
            dir.display()
        )
    }

    /// Rules that cannot be evaluated, with the reason.
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }
}

impl ExternalRules for SigmaRules {
    fn metas(&self) -> &[RuleMeta] {
        &self.metas
    }
    fn wants(&self, _t: RecordType) -> bool {
        false
    }
    fn eval(&mut self, _fact: &Fact, _hits: &mut Vec<usize>) {}
    fn explain(&self, idx: usize, _fact: &Fact) -> String {
        self.metas[idx].title.clone()
    }
}
