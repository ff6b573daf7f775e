//! The registry of a generation's views ([`annuaire_views::GenerationView`]): what this binary derives from each
//! generation, in the order a server prepares them. Adding a view is one implementation beside its engine and one
//! line here.

use annuaire_views::GenerationView;
use std::sync::Arc;

/// A registered view.
pub struct Registered {
    pub view: Arc<dyn GenerationView>,
    /// Made by the sync (and `approve`) before a generation is promoted; the others are made by each server after.
    pub before_promotion: bool,
}

/// Every view, in the order a server prepares them: the claims snapshot first (the identity provider's lookups
/// then leave the store), then the analysts' index and counting table, then the FHIR directory's index.
pub fn all() -> Vec<Registered> {
    let r = |view: Arc<dyn GenerationView>, before_promotion| Registered { view, before_promotion };
    vec![
        r(Arc::new(annuaire_claims::snapshot::ClaimsSnapshotView), false),
        // Invariant 6: a search never sees another generation than the claims.
        r(Arc::new(annuaire_search::view::SearchIndexView), true),
        r(Arc::new(annuaire_search::view::CountingTableView), false),
        // The FHIR directory's index: made by each server after a promotion, off the sync's critical path.
        r(Arc::new(annuaire_search::fhir::FhirIndexView), false),
    ]
}

/// The views the sync and `approve` make before promoting a generation.
pub fn before_promotion() -> Vec<Arc<dyn GenerationView>> {
    all().into_iter().filter(|r| r.before_promotion).map(|r| r.view).collect()
}
