//! The multiple-organization rules (`shared/specs/multi-org.md`) as one pure
//! decision: given what is known about the Contact, its Account's
//! organization and the Zendesk user with its email, what sfsync does.
//!
//! The rules, in short: no membership for an organization that does not
//! exist (1); multi-org behaviour only with an Account mapping *and*
//! `zendesk_multi_org` (2); memberships are only added (3); with multi-org,
//! fields sync only when the Account's organization is the user's default or
//! the user had none (4); a membership needs an Account (5); secondary
//! account relations are never synced (6, nothing to decide); an existing
//! default is never changed (7: sfsync never calls make_default and never
//! sends `organization_id` for an existing user in multi-org mode).

/// What is known before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Situation {
    /// `zendesk_multi_org` is on and an Account mapping exists (rule 2).
    pub multi_org: bool,
    /// The Contact has an `AccountId` (rule 5).
    pub has_account: bool,
    /// The Account's organization id, when it exists in Zendesk (rule 1).
    pub organization: Option<u64>,
    /// The Zendesk user with this Contact's email, if any.
    pub user: Option<UserState>,
}

/// The existing user's organizations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserState {
    /// Its default organization.
    pub default_organization: Option<u64>,
    /// Every organization it belongs to.
    pub organizations: Vec<u64>,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// No user has the email: create one.
    pub create_user: bool,
    /// Send `organization_id` with the user (creation, or multi-org off).
    pub set_organization: bool,
    /// Add a membership of the Account's organization (multi-org on).
    pub create_membership: bool,
    /// Write the Contact's mapped fields to the user.
    pub sync_fields: bool,
}

/// Decide what one Contact (or Lead) sync does.
pub fn decide(s: &Situation) -> Decision {
    let organization = s.organization.filter(|_| s.has_account);
    match (&s.user, s.multi_org) {
        (None, _) => Decision {
            create_user: true,
            set_organization: organization.is_some(),
            create_membership: false,
            sync_fields: true,
        },
        (Some(_), false) => Decision {
            create_user: false,
            set_organization: organization.is_some(),
            create_membership: false,
            sync_fields: true,
        },
        (Some(user), true) => match organization {
            None => Decision {
                create_user: false,
                set_organization: false,
                create_membership: false,
                sync_fields: true,
            },
            Some(org) => Decision {
                create_user: false,
                set_organization: false,
                create_membership: !user.organizations.contains(&org),
                sync_fields: user.organizations.is_empty()
                    || user.default_organization == Some(org),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: u64 = 77;
    const OTHER: u64 = 88;

    /// The seven situations of multi-org.md, each in both modes.
    #[test]
    fn the_seven_situations_in_both_modes() {
        let no_org_user = Some(UserState::default());
        let other_org_user = Some(UserState {
            default_organization: Some(OTHER),
            organizations: vec![OTHER],
        });
        // Expected (create_user, set_organization, create_membership, sync_fields)
        // for multi-org off, then on (multi-org.md's table), one row per
        // situation: (situation, has_account, organization, user, expected).
        type Flags = (bool, bool, bool, bool);
        type Row = (u8, bool, Option<u64>, Option<UserState>, [Flags; 2]);
        let table: [Row; 7] = [
            (
                1,
                false,
                None,
                no_org_user.clone(),
                [(false, false, false, true), (false, false, false, true)],
            ),
            (
                2,
                false,
                None,
                None,
                [(true, false, false, true), (true, false, false, true)],
            ),
            (
                3,
                true,
                Some(ORG),
                no_org_user.clone(),
                [(false, true, false, true), (false, false, true, true)],
            ),
            (
                4,
                true,
                Some(ORG),
                other_org_user,
                [(false, true, false, true), (false, false, true, false)],
            ),
            (
                5,
                true,
                None,
                no_org_user,
                [(false, false, false, true), (false, false, false, true)],
            ),
            (
                6,
                true,
                Some(ORG),
                None,
                [(true, true, false, true), (true, true, false, true)],
            ),
            (
                7,
                true,
                None,
                None,
                [(true, false, false, true), (true, false, false, true)],
            ),
        ];
        for (n, has_account, organization, user, modes) in table {
            for (multi_org, want) in [false, true].into_iter().zip(modes) {
                let d = decide(&Situation {
                    multi_org,
                    has_account,
                    organization,
                    user: user.clone(),
                });
                assert_eq!(
                    (
                        d.create_user,
                        d.set_organization,
                        d.create_membership,
                        d.sync_fields
                    ),
                    want,
                    "situation {n}, multi-org {multi_org}"
                );
            }
        }
    }

    #[test]
    fn memberships_are_not_duplicated_and_defaults_are_kept() {
        let member = Situation {
            multi_org: true,
            has_account: true,
            organization: Some(ORG),
            user: Some(UserState {
                default_organization: Some(OTHER),
                organizations: vec![OTHER, ORG],
            }),
        };
        let d = decide(&member);
        assert!(!d.create_membership && !d.set_organization && !d.sync_fields);
        let default_member = Situation {
            user: Some(UserState {
                default_organization: Some(ORG),
                organizations: vec![ORG, OTHER],
            }),
            ..member
        };
        let d = decide(&default_member);
        assert!(!d.create_membership && d.sync_fields);
    }
}
