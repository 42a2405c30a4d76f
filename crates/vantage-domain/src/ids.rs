//! Identifiers of stored entities: one newtype per table so ids cannot be mixed up.

use crate::macros::id_type;

id_type!(
    /// Identifies an [`crate::Asset`].
    AssetId
);
id_type!(
    /// Identifies a [`crate::Service`].
    ServiceId
);
id_type!(
    /// Identifies a [`crate::Package`] installed on an asset.
    PackageId
);
id_type!(
    /// Identifies a [`crate::Finding`].
    FindingId
);
id_type!(
    /// Identifies a [`crate::Scope`].
    ScopeId
);
id_type!(
    /// Identifies a [`crate::User`].
    UserId
);
id_type!(
    /// Identifies an [`crate::ApiToken`].
    TokenId
);
id_type!(
    /// Identifies a [`crate::Job`].
    JobId
);
