//! AutoDetect from the scenario (issue 12 item 5): it has no configuration of its own.

use hmasim_protocol::Net;
use hmasim_scenario::Scenario;

use crate::AutoDetect;

impl AutoDetect {
    /// AutoDetect, with its network view `net` (the Internet's).
    pub fn from_scenario(_sc: &Scenario, net: Net) -> AutoDetect {
        AutoDetect::new(net)
    }
}
