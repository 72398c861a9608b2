//! ACLs: DescribeAcls with a filter and CreateAcls, with Kafka's resource,
//! pattern, operation and permission codes as typed enums, for MM2's ACL sync.
//!
//! # References
//! - KIP-140 (ACL admin APIs), KIP-290 (prefixed patterns); Kafka
//!   `org.apache.kafka.common.acl.{AclOperation,AclPermissionType}` and
//!   `org.apache.kafka.common.resource.{ResourceType,PatternType}` for the codes.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::{
    ApiKey, CreateAclsRequest, CreateAclsResponse, DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::cluster::check_code;
use crate::client::{Client, ClientError};

/// Declares a Kafka code enum with an `Unknown(i8)` catch-all, `from_code` and `code`.
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// `UNKNOWN` (0) or a code newer than this client.
            Unknown(i8),
        }

        impl $name {
            /// The value for a wire code.
            pub fn from_code(code: i8) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    other => Self::Unknown(other),
                }
            }

            /// The wire code.
            pub fn code(self) -> i8 {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Unknown(c) => c,
                }
            }
        }
    };
}

code_enum! {
    /// What kind of resource an ACL protects (`ResourceType`).
    ResourceType {
        /// Matches any type (filters only).
        Any = 1,
        /// A topic.
        Topic = 2,
        /// A consumer group.
        Group = 3,
        /// The cluster.
        Cluster = 4,
        /// A transactional id.
        TransactionalId = 5,
        /// A delegation token.
        DelegationToken = 6,
        /// A user (KIP-373).
        User = 7,
    }
}

code_enum! {
    /// How an ACL's resource name matches (`PatternType`).
    PatternType {
        /// Matches any pattern type (filters only).
        Any = 1,
        /// Matches the ACLs that apply to a name: literal, wildcard and prefixed (filters only).
        Match = 2,
        /// The name exactly, or `*` for all.
        Literal = 3,
        /// Every name starting with the resource name.
        Prefixed = 4,
    }
}

code_enum! {
    /// The operation an ACL allows or denies (`AclOperation`).
    AclOperation {
        /// Matches any operation (filters only).
        Any = 1,
        /// Every operation.
        All = 2,
        /// Read.
        Read = 3,
        /// Write.
        Write = 4,
        /// Create.
        Create = 5,
        /// Delete.
        Delete = 6,
        /// Alter.
        Alter = 7,
        /// Describe.
        Describe = 8,
        /// Inter-broker cluster actions.
        ClusterAction = 9,
        /// Describe configs.
        DescribeConfigs = 10,
        /// Alter configs.
        AlterConfigs = 11,
        /// Idempotent produce.
        IdempotentWrite = 12,
        /// Create delegation tokens.
        CreateTokens = 13,
        /// Describe delegation tokens.
        DescribeTokens = 14,
    }
}

code_enum! {
    /// Whether an ACL allows or denies (`AclPermissionType`).
    AclPermissionType {
        /// Matches either (filters only).
        Any = 1,
        /// Denies.
        Deny = 2,
        /// Allows.
        Allow = 3,
    }
}

/// One ACL: who may (or may not) do what on which resources, from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclBinding {
    /// Resource kind.
    pub resource_type: ResourceType,
    /// Resource name (`*` for all with [`PatternType::Literal`]).
    pub resource_name: String,
    /// How `resource_name` matches: literal or prefixed in a stored ACL.
    pub pattern_type: PatternType,
    /// `User:alice`-style principal.
    pub principal: String,
    /// Host, or `*` for any.
    pub host: String,
    /// Operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermissionType,
}

/// Which ACLs [`Client::describe_acls`] returns; `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclFilter {
    /// Resource kind, or [`ResourceType::Any`].
    pub resource_type: ResourceType,
    /// Resource name, or `None` for any.
    pub resource_name: Option<String>,
    /// Pattern type, or [`PatternType::Any`] / [`PatternType::Match`].
    pub pattern_type: PatternType,
    /// Principal, or `None` for any.
    pub principal: Option<String>,
    /// Host, or `None` for any.
    pub host: Option<String>,
    /// Operation, or [`AclOperation::Any`].
    pub operation: AclOperation,
    /// Permission, or [`AclPermissionType::Any`].
    pub permission: AclPermissionType,
}

impl AclFilter {
    /// Matches every ACL.
    pub fn any() -> Self {
        Self {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermissionType::Any,
        }
    }
}

impl Default for AclFilter {
    fn default() -> Self {
        Self::any()
    }
}

/// The DescribeAcls request [`Client::describe_acls`] sends for `filter`.
pub fn describe_acls_request(filter: &AclFilter) -> DescribeAclsRequest {
    let s = |o: &Option<String>| o.as_ref().map(|v| StrBytes::from_string(v.clone()));
    DescribeAclsRequest::default()
        .with_resource_type_filter(filter.resource_type.code())
        .with_resource_name_filter(s(&filter.resource_name))
        .with_pattern_type_filter(filter.pattern_type.code())
        .with_principal_filter(s(&filter.principal))
        .with_host_filter(s(&filter.host))
        .with_operation(filter.operation.code())
        .with_permission_type(filter.permission.code())
}

fn acl_creation(b: &AclBinding) -> AclCreation {
    AclCreation::default()
        .with_resource_type(b.resource_type.code())
        .with_resource_name(StrBytes::from_string(b.resource_name.clone()))
        .with_resource_pattern_type(b.pattern_type.code())
        .with_principal(StrBytes::from_string(b.principal.clone()))
        .with_host(StrBytes::from_string(b.host.clone()))
        .with_operation(b.operation.code())
        .with_permission_type(b.permission.code())
}

/// How an ACL is named in errors.
fn acl_name(b: &AclBinding) -> String {
    format!(
        "acl {:?}:{:?}:{} {} {:?} {:?} from {}",
        b.resource_type,
        b.pattern_type,
        b.resource_name,
        b.principal,
        b.permission,
        b.operation,
        b.host
    )
}

/// The bindings of a DescribeAcls answer of `broker`, or its error (a broker
/// without an authorizer answers `SECURITY_DISABLED`).
pub fn describe_acls_results(
    resp: &DescribeAclsResponse,
    broker: &str,
) -> Result<Vec<AclBinding>, ClientError> {
    check_code::<DescribeAclsRequest>(
        resp.error_code,
        broker,
        || None,
        resp.error_message.as_ref(),
    )?;
    Ok(resp
        .resources
        .iter()
        .flat_map(|r| {
            r.acls.iter().map(move |a| AclBinding {
                resource_type: ResourceType::from_code(r.resource_type),
                resource_name: r.resource_name.as_str().to_owned(),
                pattern_type: PatternType::from_code(r.pattern_type),
                principal: a.principal.as_str().to_owned(),
                host: a.host.as_str().to_owned(),
                operation: AclOperation::from_code(a.operation),
                permission: AclPermissionType::from_code(a.permission_type),
            })
        })
        .collect())
}

/// The CreateAcls request [`Client::create_acls`] sends for `bindings`.
pub fn create_acls_request(bindings: &[AclBinding]) -> CreateAclsRequest {
    CreateAclsRequest::default().with_creations(bindings.iter().map(acl_creation).collect())
}

/// One result per binding, in request order (the CreateAclsResponse schema),
/// from a CreateAcls answer of `broker`.
pub fn create_acls_results(
    bindings: &[AclBinding],
    resp: &CreateAclsResponse,
    broker: &str,
) -> Vec<Result<(), ClientError>> {
    bindings
        .iter()
        .enumerate()
        .map(|(i, b)| match resp.results.get(i) {
            Some(r) => check_code::<CreateAclsRequest>(
                r.error_code,
                broker,
                || Some(acl_name(b)),
                r.error_message.as_ref(),
            ),
            None => Err(ClientError::MissingInResponse {
                api: ApiKey::CreateAcls,
                resource: acl_name(b),
            }),
        })
        .collect()
}

impl Client {
    /// The ACLs matching `filter`. A broker without an authorizer answers
    /// `SECURITY_DISABLED` (check [`ClientError::code`]).
    pub async fn describe_acls(&self, filter: AclFilter) -> Result<Vec<AclBinding>, ClientError> {
        let req = describe_acls_request(&filter);
        let (broker, resp) = self.send_controller(&req).await?;
        describe_acls_results(&resp, &broker)
    }

    /// Creates ACLs; one result per binding, in order. Filter-only values
    /// (`Any`, `Match`) are rejected by the broker with `INVALID_REQUEST`.
    pub async fn create_acls(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        if bindings.is_empty() {
            return Ok(Vec::new());
        }
        let req = create_acls_request(bindings);
        let (broker, resp) = self.send_controller(&req).await?;
        Ok(create_acls_results(bindings, &resp, &broker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_codes_round_trip() {
        for code in i8::MIN..=i8::MAX {
            assert_eq!(ResourceType::from_code(code).code(), code);
            assert_eq!(PatternType::from_code(code).code(), code);
            assert_eq!(AclOperation::from_code(code).code(), code);
            assert_eq!(AclPermissionType::from_code(code).code(), code);
        }
    }

    #[test]
    fn acl_codes_match_kafka() {
        assert_eq!(ResourceType::Topic.code(), 2);
        assert_eq!(ResourceType::User.code(), 7);
        assert_eq!(ResourceType::from_code(0), ResourceType::Unknown(0));
        assert_eq!(PatternType::Literal.code(), 3);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(AclOperation::All.code(), 2);
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(AclOperation::DescribeTokens.code(), 14);
        assert_eq!(AclOperation::from_code(15), AclOperation::Unknown(15));
        assert_eq!(AclPermissionType::Deny.code(), 2);
        assert_eq!(AclPermissionType::Allow.code(), 3);
    }

    #[test]
    fn any_filter_matches_everything() {
        let req = describe_acls_request(&AclFilter::any());
        assert_eq!(req.resource_type_filter, 1);
        assert_eq!(req.pattern_type_filter, 1);
        assert_eq!(req.operation, 1);
        assert_eq!(req.permission_type, 1);
        assert!(req.resource_name_filter.is_none());
        assert!(req.principal_filter.is_none() && req.host_filter.is_none());
    }

    #[test]
    fn creation_carries_every_field() {
        let b = AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: "orders".into(),
            pattern_type: PatternType::Prefixed,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermissionType::Allow,
        };
        let c = acl_creation(&b);
        assert_eq!(
            (
                c.resource_type,
                c.resource_pattern_type,
                c.operation,
                c.permission_type
            ),
            (2, 4, 3, 3)
        );
        assert_eq!(c.resource_name.as_str(), "orders");
        assert_eq!(c.principal.as_str(), "User:alice");
        assert_eq!(c.host.as_str(), "*");
    }
}
