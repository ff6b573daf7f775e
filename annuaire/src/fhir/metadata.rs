//! `GET /fhir/metadata`: the CapabilityStatement, generated from the parameter table the parser reads
//! ([`super::params::PARAMS`]) and the interactions the router serves, so that it cannot advertise what is not served.

use super::params::{self, PARAMS, ResourceType};
use serde_json::{Value, json};

/// The CapabilityStatement of this server, as of `date` (RFC 3339: the served generation's promotion).
pub fn capability_statement(date: &str) -> Value {
    let resources: Vec<Value> = ResourceType::ALL
        .iter()
        .map(|&t| {
            let search: Vec<Value> = PARAMS
                .iter()
                .filter(|d| d.types.contains(&t))
                .map(|d| json!({"name": d.name, "type": d.kind, "documentation": d.doc}))
                .collect();
            let mut interactions = vec![json!({"code": "read"}), json!({"code": "search-type"})];
            if t != ResourceType::Organization {
                interactions.push(json!({"code": "vread"}));
                interactions.push(json!({"code": "history-instance"}));
                interactions.push(json!({"code": "history-type"}));
            }
            let (include, revinclude) = params::includes(t);
            json!({
                "type": t.name(),
                "profile": t.profile(),
                "interaction": interactions,
                "versioning": "versioned",
                "readHistory": t != ResourceType::Organization,
                "searchInclude": include,
                "searchRevInclude": revinclude,
                "searchParam": search,
            })
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": if date.is_empty() { "2026-01-01" } else { date },
        "publisher": "annuaire",
        "kind": "instance",
        "software": {"name": "annuaire", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "A self-hosted Annuaire Santé directory, from the PS_LibreAcces extracts"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "implementationGuide": ["https://interop.esante.gouv.fr/ig/fhir/annuaire"],
        "rest": [{
            "mode": "server",
            "documentation": "Searches read one generation: `next` links carry a cursor bound to it. Unknown parameters \
                are refused (400 OperationOutcome). `_count` defaults to 50, at most 1000.",
            "security": {"description": "Bearer token of a client with the `search` or `claims` scope."},
            "resource": resources,
            "operation": [{
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                "documentation": "System-level bulk export: `_type`, `_since`, `_typeFilter` (department, \
                    qualification-code, address-postalcode, data-registration-authority, organization).",
            }],
        }],
    })
}
