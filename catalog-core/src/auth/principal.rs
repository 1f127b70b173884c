//! Who is calling, and what they may do (SPEC §5).

use super::Claims;
use crate::ids::{LocalId, OrganizationId, UserId};
use serde::{Deserialize, Serialize};

/// The catalog's resources, as named in permissions (`catalog.{resource}.{action}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Products,
    Variants,
    Brands,
    Collections,
    Tags,
    PriceTiers,
    Options,
}

impl Resource {
    pub const ALL: [Resource; 7] = [
        Resource::Products,
        Resource::Variants,
        Resource::Brands,
        Resource::Collections,
        Resource::Tags,
        Resource::PriceTiers,
        Resource::Options,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Products => "products",
            Resource::Variants => "variants",
            Resource::Brands => "brands",
            Resource::Collections => "collections",
            Resource::Tags => "tags",
            Resource::PriceTiers => "price_tiers",
            Resource::Options => "options",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Read, Action::Create, Action::Update, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    /// The Auth Service's module-level permission granting this action on every catalog
    /// resource; it calls "update" "edit".
    fn module_permission(self) -> &'static str {
        match self {
            Action::Read => "catalog:read",
            Action::Create => "catalog:create",
            Action::Update => "catalog:edit",
            Action::Delete => "catalog:delete",
        }
    }
}

/// Grants every local (store / warehouse) of the organization.
pub const LOCAL_ACCESS_ALL: &str = "local:access_all";
/// Grants every action on every catalog resource.
pub const CATALOG_ALL: &str = "catalog:*";

/// A verified caller. Cached as JSON, so changing fields changes the cache format (entries
/// live at most `CACHE_TTL_AUTH` seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub email: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub locals: Vec<LocalId>,
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Principal {
    /// Granted by `catalog.{resource}.{action}`, the module-level `catalog:{action}`
    /// (`catalog:edit` for update) or `catalog:*`. Only exact matches count.
    pub fn allows(&self, resource: Resource, action: Action) -> bool {
        let module = action.module_permission();
        self.permissions
            .iter()
            .any(|p| p == CATALOG_ALL || p == module || is_fine_grained(p, resource.as_str(), action.as_str()))
    }

    /// The local is one of the user's, or the user holds `local:access_all`.
    pub fn may_use_local(&self, local: LocalId) -> bool {
        self.locals.contains(&local) || self.permissions.iter().any(|p| p == LOCAL_ACCESS_ALL)
    }
}

/// `p == format!("catalog.{resource}.{action}")` without allocating.
fn is_fine_grained(p: &str, resource: &str, action: &str) -> bool {
    p.strip_prefix("catalog.")
        .and_then(|rest| rest.strip_prefix(resource))
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| rest == action)
}

impl From<Claims> for Principal {
    fn from(claims: Claims) -> Self {
        Self {
            user_id: claims.user_id,
            organization_id: claims.organization_id,
            email: claims.email,
            permissions: claims.permissions,
            locals: claims.locals,
            roles: claims.roles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_grained_matching_is_exact() {
        assert!(is_fine_grained("catalog.price_tiers.read", "price_tiers", "read"));
        assert!(!is_fine_grained("catalog.price_tiers.readx", "price_tiers", "read"));
        assert!(!is_fine_grained("catalog.price.read", "price_tiers", "read"));
        assert!(!is_fine_grained("catalog.price_tiersread", "price_tiers", "read"));
        assert!(!is_fine_grained("xcatalog.price_tiers.read", "price_tiers", "read"));
    }
}
