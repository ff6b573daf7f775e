//! The OpenAPI 3.1 document of the API, generated from [`ROUTES`] (the table every route of the router is declared
//! in: a test checks that each listed route is served and that the router serves no other) and from the wire types'
//! schemas ([`super::wire`], utoipa). A test checks every answer against the schema documented for it.

use serde_json::{Value, json};

/// One documented route.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// `claims`, `search`, `admin`, several as `claims|search` (any one of them), or `""` for none.
    pub scope: &'static str,
    pub summary: &'static str,
    /// Request body schema (a `#/components/schemas` name), if any.
    pub request: Option<&'static str>,
    /// Response schema name.
    pub response: &'static str,
    /// Query parameters: (name, required, description).
    pub query: &'static [(&'static str, bool, &'static str)],
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/v1/professionals/{id}",
        scope: "claims|search",
        summary: "The whole native record of a professional: identifiers, exercices, every savoir-faire, activities \
                  and structures, diplomas, cards, mailboxes, validity of the cards today, activation history",
        request: None,
        response: "Professional",
        query: &[],
    },
    Route {
        method: "get",
        path: "/v1/codes/{kind}",
        scope: "",
        summary: "The codes and labels of a nomenclature (profession, category, savoir_faire, mode, sector ...)",
        request: None,
        response: "Codes",
        query: &[],
    },
    Route {
        method: "get",
        path: "/healthz",
        scope: "",
        summary: "Liveness and the served generation",
        request: None,
        response: "Health",
        query: &[],
    },
    Route {
        method: "get",
        path: "/metrics",
        scope: "admin",
        summary: "Prometheus metrics",
        request: None,
        response: "Text",
        query: &[],
    },
    Route {
        method: "get",
        path: "/openapi.json",
        scope: "",
        summary: "This document",
        request: None,
        response: "Object",
        query: &[],
    },
    Route {
        method: "get",
        path: "/v1/claims/{id}",
        scope: "claims",
        summary: "PSC UserInfo claims of a professional (idNat, RPPS or ADELI)",
        request: None,
        response: "UserInfo",
        query: &[("profile", false, "psc-2021 or psc-2023 (default)")],
    },
    Route {
        method: "post",
        path: "/v1/claims/batch",
        scope: "claims",
        summary: "Claims of up to 1,000 professionals, from one generation",
        request: Some("BatchRequest"),
        response: "BatchResponse",
        query: &[],
    },
    Route {
        method: "post",
        path: "/v1/eligibility",
        scope: "claims",
        summary: "Eligibility of a professional for a client service",
        request: Some("EligibilityRequest"),
        response: "EligibilityResponse",
        query: &[],
    },
    Route {
        method: "get",
        path: "/v1/services",
        scope: "claims",
        summary: "The client services' policies",
        request: None,
        response: "Services",
        query: &[],
    },
    Route {
        method: "get",
        path: "/v1/subjects/resolve",
        scope: "claims",
        summary: "Resolve a login hint to one subject",
        request: None,
        response: "Resolved",
        query: &[("hint", true, "idNat, RPPS or ADELI, or a CPS/CPF card number")],
    },
    Route {
        method: "get",
        path: "/v1/changes",
        scope: "admin",
        summary: "Changes of promoted generations, paged in a stable order",
        request: None,
        response: "Changes",
        query: &[
            ("since", false, "generation to start after (0 or more)"),
            ("limit", false, "page size, 1 to 10000, default 1000"),
            ("offset", false, "entries skipped (0 or more)"),
        ],
    },
    Route {
        method: "get",
        path: "/v1/runs",
        scope: "admin",
        summary: "The sync's runs, newest first, with their diff (by id group and by segment), report and reason",
        request: None,
        response: "Runs",
        query: &[("limit", false, "1 to 1000, default 100")],
    },
    Route {
        method: "get",
        path: "/v1/generations",
        scope: "admin",
        summary: "The served generation, the held one with the gates' reasons, and the newest generations",
        request: None,
        response: "Generations",
        query: &[("limit", false, "1 to 1000, default 30")],
    },
    Route {
        method: "post",
        path: "/v1/generations/{id}/approve",
        scope: "admin",
        summary: "Promote the held generation {id} once its views are ready, leaving out the kinds of change in \
                  `exclude` (as `annuaire approve`); 409 `conflict` when it is not held or a sync runs",
        request: Some("ApproveRequest"),
        response: "Approved",
        query: &[],
    },
    Route {
        method: "get",
        path: "/v1/quality/{id}",
        scope: "admin",
        summary: "The quality report of generation {id} (`latest`: the newest): mis-encoded text with its places, codes \
                  missing from the tables, shared SIRETs and FINESS, persons without activity, what moved most, warnings",
        request: None,
        response: "QualityReport",
        query: &[],
    },
    Route {
        method: "get",
        path: "/v1/usage",
        scope: "admin",
        summary: "Usage by client service (calls, distinct professionals, eligible, refused) over the period and by day; \
                  this server's calls not yet written are written first",
        request: None,
        response: "Usage",
        query: &[("since", false, "first day counted, yyyy-mm-dd (default: 30 days ago)")],
    },
    Route {
        method: "get",
        path: "/v1/search",
        scope: "search",
        summary: "Search professionals by name and filters, with facet counts",
        request: None,
        response: "SearchResponse",
        query: &[
            (
                "text",
                false,
                "words of the names (accents, case, prefixes, one typo forgiven from 5 to 24 letters); at most 10 words \
                 of 64 characters",
            ),
            ("profession", false, "profession code"),
            ("authority", false, "authority kind (ordre, ars, local, unknown) or name (CNOM ...)"),
            ("department", false, "department code"),
            ("commune", false, "INSEE commune code"),
            ("savoir_faire", false, "savoir-faire code"),
            ("valid_card", false, "true: holds a CPS/CPF card valid on the day the index was built; false: does not"),
            ("mailbox", false, "true: has an MSSanté mailbox; false: has none"),
            ("limit", false, "1 to 1000, default 20"),
            ("offset", false, "hits skipped, 0 to 10000 (deeper: export or /v1/changes)"),
        ],
    },
    Route {
        method: "get",
        path: "/v1/stats",
        scope: "search",
        summary: "Distinct professionals per group, with the search filters",
        request: None,
        response: "Stats",
        query: &[
            (
                "by",
                false,
                "comma-separated: profession, authority, authority_kind, department, savoir_faire, mode, sector, valid_card, mailbox",
            ),
            ("profession", false, "profession code"),
            ("authority", false, "authority kind or name"),
            ("department", false, "department code"),
            ("commune", false, "INSEE commune code"),
            ("valid_card", false, "true or false: holds a valid CPS/CPF card"),
            ("mailbox", false, "true or false: has an MSSanté mailbox"),
            ("savoir_faire", false, "savoir-faire code"),
        ],
    },
    Route {
        method: "get",
        path: "/v1/departments",
        scope: "",
        summary: "The departments with their names and their squares on the tile map of France",
        request: None,
        response: "Departments",
        query: &[],
    },
    Route {
        method: "get",
        path: "/v1/export",
        scope: "search",
        summary: "Every row (person x exercice x activity) matching the filters, as `annuaire export` writes them: a \
                  CSV or Parquet file, streamed",
        request: None,
        response: "File",
        query: &[
            ("format", false, "csv (default) or parquet"),
            ("profession", false, "profession code"),
            ("authority", false, "authority kind or name"),
            ("department", false, "department code"),
            ("commune", false, "INSEE commune code"),
            ("savoir_faire", false, "savoir-faire code"),
            ("valid_card", false, "true or false"),
            ("mailbox", false, "true or false"),
        ],
    },
    Route {
        method: "get",
        path: "/fhir/Practitioner/{id}",
        scope: "claims|search",
        summary: "FHIR R4 Practitioner (Annuaire Santé profile), also once removed from the extract (`active: false`)",
        request: None,
        response: "FhirResource",
        query: &[],
    },
    Route {
        method: "get",
        path: "/fhir/metadata",
        scope: "claims|search",
        summary: "FHIR CapabilityStatement: every resource, interaction and search parameter served",
        request: None,
        response: "FhirResource",
        query: &[],
    },
    Route {
        method: "get",
        path: "/fhir/{type}",
        scope: "claims|search",
        summary: "FHIR search (Practitioner, PractitionerRole, Organization) as a searchset Bundle; `next` links carry \
                  a cursor bound to one generation; unknown parameters are refused (OperationOutcome); see \
                  /fhir/metadata for the parameters",
        request: None,
        response: "FhirResource",
        query: &[
            ("_count", false, "page size, default 50, at most 1000"),
            ("_cursor", false, "the cursor of a next link"),
        ],
    },
    Route {
        method: "post",
        path: "/fhir/{type}/_search",
        scope: "claims|search",
        summary: "FHIR search by POST: a form body (application/x-www-form-urlencoded) whose parameters are added to \
                  the URL's, at most 4,096 bytes together, answered as the same GET; another media type is a 415, a \
                  longer body a 413 (OperationOutcome)",
        request: None,
        response: "FhirResource",
        query: &[],
    },
    Route {
        method: "get",
        path: "/fhir/{type}/{id}",
        scope: "claims|search",
        summary: "FHIR read of a Practitioner, PractitionerRole or Organization",
        request: None,
        response: "FhirResource",
        query: &[],
    },
    Route {
        method: "get",
        path: "/fhir/{type}/{id}/_history",
        scope: "claims|search",
        summary: "FHIR history of a Practitioner or PractitionerRole: one version per generation that changed it, \
                  the removal included (request.method DELETE), newest first",
        request: None,
        response: "FhirResource",
        query: &[],
    },
    Route {
        method: "get",
        path: "/fhir/{type}/{id}/_history/{vid}",
        scope: "claims|search",
        summary: "FHIR vread of a Practitioner or PractitionerRole: the version whose versionId is vid (the \
                  generation that wrote it); 410 when that version is its removal, 404 when there is none",
        request: None,
        response: "FhirResource",
        query: &[],
    },
    Route {
        method: "get",
        path: "/fhir/{type}/_history",
        scope: "claims|search",
        summary: "FHIR history of a type since an instant, in the order applied, removals as DELETE entries",
        request: None,
        response: "FhirResource",
        query: &[
            ("_since", true, "instant or date"),
            ("_count", false, "page size, default 50, at most 1000"),
            ("_cursor", false, "the cursor of a next link"),
        ],
    },
    Route {
        method: "get",
        path: "/fhir/$export",
        scope: "claims|search",
        summary: "FHIR Bulk Data kick-off: 202 with Content-Location of the job's status",
        request: None,
        response: "Empty",
        query: &[
            ("_type", false, "Practitioner,PractitionerRole,Organization (default all)"),
            ("_since", false, "only versions written after this instant"),
            ("_typeFilter", false, "Type?department=..&qualification-code=.. (repeatable)"),
        ],
    },
    Route {
        method: "get",
        path: "/fhir/$export-status/{id}",
        scope: "claims|search",
        summary: "FHIR Bulk Data status: 202 with X-Progress while running, then the manifest",
        request: None,
        response: "ExportManifest",
        query: &[],
    },
    Route {
        method: "delete",
        path: "/fhir/$export-status/{id}",
        scope: "claims|search",
        summary: "Cancel an export or remove its files",
        request: None,
        response: "Empty",
        query: &[],
    },
    Route {
        method: "get",
        path: "/fhir/$export-file/{id}/{file}",
        scope: "claims|search",
        summary: "One ndjson file of a finished export",
        request: None,
        response: "Ndjson",
        query: &[],
    },
];

/// A wire type's schema and the schemas it refers to, under their names.
fn add<T: utoipa::ToSchema>(out: &mut serde_json::Map<String, Value>) {
    out.insert(T::name().into_owned(), serde_json::to_value(T::schema()).unwrap_or_default());
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    for (name, schema) in nested {
        out.insert(name, serde_json::to_value(schema).unwrap_or_default());
    }
}

/// The components' schemas: generated from the wire types ([`super::wire`]).
fn schemas() -> Value {
    use super::wire::*;
    let mut out = serde_json::Map::new();
    add::<Error>(&mut out);
    add::<Health>(&mut out);
    add::<UserInfo>(&mut out);
    add::<FhirResource>(&mut out);
    add::<BatchRequest>(&mut out);
    add::<BatchResponse>(&mut out);
    add::<EligibilityRequest>(&mut out);
    add::<EligibilityResponse>(&mut out);
    add::<Services>(&mut out);
    add::<Resolved>(&mut out);
    add::<Changes>(&mut out);
    add::<SearchResponse>(&mut out);
    add::<Professional>(&mut out);
    add::<CodeEntry>(&mut out);
    add::<StatsRow>(&mut out);
    add::<Runs>(&mut out);
    add::<Generations>(&mut out);
    add::<ApproveRequest>(&mut out);
    add::<Approved>(&mut out);
    add::<Usage>(&mut out);
    add::<QualityReport>(&mut out);
    add::<DepartmentTile>(&mut out);
    out.insert(
        "Departments".into(),
        json!({"type": "array", "items": {"$ref": "#/components/schemas/DepartmentTile"}}),
    );
    out.insert("Codes".into(), json!({"type": "array", "items": {"$ref": "#/components/schemas/CodeEntry"}}));
    out.insert("Stats".into(), json!({"type": "array", "items": {"$ref": "#/components/schemas/StatsRow"}}));
    out.insert("Text".into(), json!({"type": "string"}));
    out.insert("Empty".into(), json!({"description": "no body (202 Accepted, with Content-Location for $export)"}));
    out.insert("Ndjson".into(), json!({"type": "string", "description": "one FHIR resource per line"}));
    out.insert(
        "ExportManifest".into(),
        json!({"type": "object", "required": ["transactionTime", "request", "requiresAccessToken", "output", "error"],
            "properties": {"transactionTime": {"type": "string"}, "request": {"type": "string"},
                "requiresAccessToken": {"type": "boolean"}, "error": {"type": "array"},
                "extension": {"type": "object"},
                "output": {"type": "array", "items": {"type": "object", "required": ["type", "url"],
                    "properties": {"type": {"type": "string"}, "url": {"type": "string"}, "count": {"type": "integer"}}}}}}),
    );
    out.insert("Object".into(), json!({"type": "object"}));
    out.insert("File".into(), json!({"type": "string", "description": "a file: CSV or Parquet"}));
    Value::Object(out)
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let mut params: Vec<Value> = r
            .query
            .iter()
            .map(|(name, required, description)| json!({"name": name, "in": "query", "required": required, "description": description, "schema": {"type": "string"}}))
            .collect();
        for name in ["id", "kind", "type", "file"] {
            if r.path.contains(&format!("{{{name}}}")) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
            }
        }
        let content = if r.response == "File" {
            Some(json!({"text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}))
        } else {
            None
        };
        let content_type = if r.response == "ExportManifest" {
            "application/json"
        } else if r.response == "Ndjson" {
            "application/fhir+ndjson"
        } else if r.path.starts_with("/fhir") {
            "application/fhir+json"
        } else if r.response == "Text" {
            "text/plain"
        } else {
            "application/json"
        };
        let mut op = json!({
            "summary": r.summary,
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {content_type: {"schema": {"$ref": format!("#/components/schemas/{}", r.response)}}}},
                "400": {"description": "A parameter outside its bounds (`bad_request`)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "429": {"description": "The client's max_requests_per_second is reached (`rate_limited`, `Retry-After`)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "503": {"description": "The endpoint class's budget is full (`overloaded`), the request timed out (`timeout`), or nothing is served yet (`not_ready`); `Retry-After`", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if let Some(content) = content {
            op["responses"]["200"]["content"] = content;
        }
        if !r.scope.is_empty() {
            // Alternatives: any one of the scopes (`claims|search`).
            let security: Vec<Value> = r.scope.split('|').map(|s| json!({"bearer": [s]})).collect();
            op["security"] = Value::Array(security);
            op["x-scope"] = json!(r.scope);
        }
        if let Some(req) = r.request {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{req}")}}}});
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "annuaire", "version": env!("CARGO_PKG_VERSION"),
            "description": "Claims and eligibility of French health professionals (Annuaire Santé), for Pro Santé Connect and its client services."},
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A client token declared (as its sha256) in the config file."}},
        },
    })
}
