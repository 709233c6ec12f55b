//! The demo users of docs/api.md §8, seeded when `SEED_DEMO_USERS=true` (idempotent: existing users,
//! and their passwords, are left untouched). [`DEMO_USERS`] is public so the launcher can print
//! them.

use phonebill_common::auth::Permission;

use crate::service::AuthService;
use crate::store::{NewUser, StoreError};

/// One demo user.
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    /// User id.
    pub id: &'static str,
    /// Password (satisfies docs/api.md §2.14).
    pub password: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Customer id.
    pub customer_id: &'static str,
    /// Line, dashed.
    pub line: &'static str,
    /// Granted permissions.
    pub permissions: &'static [Permission],
}

const SERVICES: &[Permission] = &[Permission::BillInquiry, Permission::ProductChange];

/// docs/api.md §8.
pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        id: "mvno001",
        password: "Phonebill1!",
        name: "홍길동",
        customer_id: "CU202401001",
        line: "010-1234-5678",
        permissions: SERVICES,
    },
    DemoUser {
        id: "mvno002",
        password: "Phonebill2!",
        name: "김민준",
        customer_id: "CU202401002",
        line: "010-1234-7777",
        permissions: SERVICES,
    },
    DemoUser {
        id: "mvno003",
        password: "Phonebill3!",
        name: "이서연",
        customer_id: "CU202401003",
        line: "010-9876-5432",
        permissions: SERVICES,
    },
    DemoUser {
        id: "mvno004",
        password: "Phonebill4!",
        name: "박지훈",
        customer_id: "CU202401004",
        line: "010-5555-6666",
        permissions: SERVICES,
    },
    DemoUser {
        id: "mvno005",
        password: "Phonebill5!",
        name: "최유나",
        customer_id: "CU202401005",
        line: "010-7777-8888",
        permissions: &[Permission::BillInquiry],
    },
    DemoUser {
        id: "admin",
        password: "Admin1234!",
        name: "관리자",
        customer_id: "CU000000000",
        line: "010-0000-0000",
        permissions: &[
            Permission::Admin,
            Permission::UserManagement,
            Permission::BillInquiry,
            Permission::ProductChange,
        ],
    },
];

/// Inserts the demo users that do not exist yet; returns how many were created.
pub async fn seed_demo_users(svc: &AuthService) -> Result<usize, StoreError> {
    let mut created = 0;
    for d in DEMO_USERS {
        if svc.store.find_user(d.id).await?.is_some() {
            continue;
        }
        let hash = svc
            .hasher
            .hash(d.password.to_owned())
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let user = NewUser {
            user_id: d.id.to_owned(),
            customer_id: d.customer_id.to_owned(),
            line_number: d.line.replace('-', ""),
            user_name: d.name.to_owned(),
            password_hash: hash,
            permissions: d
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            granted_by: None,
        };
        match svc.store.create_user(&user, svc.clock.now()).await {
            Ok(()) => created += 1,
            // Another instance seeded it meanwhile, or the line belongs to someone else.
            Err(StoreError::UserExists | StoreError::LineExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}
