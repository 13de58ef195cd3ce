"""The catalogue of every rule the ledger judges: its name (as its Breach or refusal names it), the
clause(s) it cites, whether it refuses the act (exit 3), flags it in ``report findings``, or both,
and the test that proves it through the command line.

``policy show`` and the README print it; tests/test_rule_catalogue.py keeps it complete against
the source (every rule named there is here, and nothing else), the policy data and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.i18n import N_, _
from ledger.labels import label
from ledger.policy import Policy

EVERY = "tests/test_every_rule.py::"


@dataclass(frozen=True)
class Rule:
    name: str
    clauses: tuple[str, ...]  # keys of the policy's clauses; a per-programme rule lists each
    refused: bool  # the act is refused (exit 3)
    flagged: bool  # stored history that breaks it is a finding (report findings)
    tests: tuple[str, ...]  # tests/FILE.py::test_name, each exercising the rule by the command line
    cite: str = ""  # a rule outside the policy data: what it cites instead of clauses
    note: str = ""  # what a reader of the table needs besides

    def mode(self, zh: bool) -> str:
        if self.refused and self.flagged:
            mode = "拒绝并列为问题" if zh else "refused and flagged"
        elif self.refused:
            mode = "拒绝" if zh else "refused"
        else:
            mode = "列为问题" if zh else "flagged"
        note = _(self.note) if zh and self.note else self.note
        return f"{mode} ({note})" if note else mode

    def cites(self, policy: Policy) -> str:
        return self.cite or "; ".join(dict.fromkeys(policy.clause(k).cite for k in self.clauses))

    def words(self, policy: Policy) -> str:
        return " / ".join(dict.fromkeys(f"“{policy.clause(k).words}”" for k in self.clauses)) or "—"


SUBSIDY = (
    "district_subsidy",
    "institute_subsidy",
    "municipal_subsidy",
    "named_no_subsidy",
    "national_subsidy",
)
APPROVAL = (
    "approval_first",
    "institute_approval",
    "municipal_approval",
    "municipal_funding",
    "national_funding",
)
BUILD = ("district_build_period", "notice_build_period", "institute_approval")
SUPERVISION = ("supervision", "institute_supervision")

RULES: tuple[Rule, ...] = (
    # who records what
    Rule(
        "role",
        ("roles",),
        True,
        True,
        (
            EVERY + "test_acts_by_the_wrong_role_or_an_unknown_key_are_refused",
            "tests/test_one_rulebook.py::test_other_acts_are_judged_by_their_own_rules",
        ),
    ),
    Rule(
        "registered signer",
        ("roles",),
        True,
        False,
        (EVERY + "test_acts_by_the_wrong_role_or_an_unknown_key_are_refused",),
    ),
    Rule(
        "separation of duties",
        ("separation_of_duties",),
        True,
        False,
        ("tests/test_people.py::test_who_recorded_an_application_may_not_review_notice_or_approve_it",),
    ),
    Rule(
        "people",
        (),
        True,
        False,
        (EVERY + "test_the_registry_and_the_policy_data_refuse_by_their_own_rules",),
        cite=N_("the people registry (DESIGN: trust model)"),
    ),
    Rule(
        N_("people password"),
        (),
        True,
        False,
        ("tests/test_web.py::test_people_password_for_another_person_is_refused_by_the_rule",),
        cite=N_("who sets a web password (README: grant-ledger serve)"),
    ),
    Rule(
        "policy install",
        (),
        True,
        False,
        (EVERY + "test_the_registry_and_the_policy_data_refuse_by_their_own_rules",),
        cite=N_("the policy data (DESIGN: policy)"),
    ),
    # applications
    Rule(
        "policy in force",
        ("district_in_force", "institute_in_force"),
        True,
        False,
        (EVERY + "test_an_application_is_judged_when_it_is_recorded",),
    ),
    Rule(
        "application round",
        ("applications_due",),
        True,
        False,
        (EVERY + "test_an_application_is_judged_when_it_is_recorded",),
    ),
    Rule(
        "projects count",
        ("district_projects", "institute_projects", "municipal_projects", "national_projects"),
        True,
        True,
        (
            EVERY + "test_an_application_is_judged_when_it_is_recorded",
            "tests/test_programme_rules.py::test_application_conditions_are_findings_on_the_application",
        ),
        note=N_(
            "a district base's 1–2 is among the conditions 003 第六条 asks 原则上 (its own form says 2–3): a "
            "finding on the application, though one naming none is refused; the other programmes' counts "
            "are refused"
        ),
    ),
    Rule(
        "requested amount",
        SUBSIDY,
        True,
        False,
        (EVERY + "test_an_application_is_judged_when_it_is_recorded",),
    ),
    Rule(
        "one institute", ("one_institute",), True, False, (EVERY + "test_one_base_a_level_and_one_institute",)
    ),
    Rule(
        "one base per level",
        ("one_base_per_level", "one_institute", "one_municipal_base"),
        True,
        False,
        (EVERY + "test_one_base_a_level_and_one_institute",),
        note=N_(
            "003 第八条 and 000 第十二条 say it of district bases and institutes; 002 says it of no level, "
            "and the ledger holds municipal and national bases to one per unit (DESIGN): 002 五(二) bids "
            "them apart"
        ),
    ),
    Rule(
        "no district base above municipal",
        ("one_district_base",),
        True,
        False,
        (EVERY + "test_one_base_a_level_and_one_institute",),
    ),
    Rule(
        "one unit per base",
        ("ring_fence",),
        True,
        False,
        (
            "tests/test_one_unit_per_base.py::test_another_units_application_for_a_base_held_is_refused",
            "tests/test_one_unit_per_base.py::"
            "test_an_approve_row_on_another_units_base_is_refused_and_the_file_writes_nothing",
        ),
    ),
    Rule(
        "application condition",
        (
            "district_scale",
            "district_capacity",
            "district_teachers",
            "district_cooperation",
            "municipal_scale",
            "municipal_capacity",
            "municipal_skilled_share",
            "municipal_teachers",
            "municipal_cooperation",
            "national_capacity",
            "national_skilled_share",
            "national_teachers",
        ),
        False,
        True,
        (
            EVERY + "test_what_an_application_declares_and_who_applies_are_findings_not_refusals",
            "tests/test_application_conditions.py::test_a_national_application_is_judged_by_002_four_one_1",
        ),
    ),
    Rule(
        "host unit",
        ("institute_host",),
        False,
        True,
        (EVERY + "test_what_an_application_declares_and_who_applies_are_findings_not_refusals",),
    ),
    # selection
    Rule(
        "recommender", ("recommendation_required",), True, False, (EVERY + "test_recommendations_are_judged",)
    ),
    Rule(
        "recommendation round",
        ("applications_due",),
        True,
        False,
        (EVERY + "test_recommendations_are_judged",),
        note=N_("a recommendation dated after the notice's review days (7月18－24日) is late"),
    ),
    Rule(
        "selection count",
        ("national_count", "municipal_funded_count", "municipal_named_count"),
        True,
        True,
        (
            "tests/test_selection_count.py::test_an_approval_past_the_count_a_round_selects_is_a_finding",
            "tests/test_selection_count.py::test_a_national_base_is_counted_by_its_tier_too",
            "tests/test_selection_count.py::test_a_municipal_base_is_counted_by_its_kind_too",
        ),
        note=N_(
            "a count across grants: `report findings` shows it, a bundle of some grants cannot; a national "
            "approval's tier (grant approve --tier: A or B 2, C or D 1) and a municipal application's kind "
            "(grant apply --track: 国际合作类 2, 数字技能类 3, 其他类 3) are counted too, one naming none in "
            "the whole only; a tier or kind the programme does not have is refused"
        ),
    ),
    Rule(
        "recommendation quota",
        ("recommendation_quota",),
        True,
        False,
        (EVERY + "test_recommendations_are_judged",),
    ),
    Rule(
        "recommendation rank",
        ("recommendation_quota",),
        True,
        False,
        (EVERY + "test_recommendations_are_judged",),
    ),
    Rule(
        "recommendation first",
        ("recommendation_required",),
        True,
        False,
        (EVERY + "test_recommendations_are_judged",),
    ),
    Rule(
        "review by its authority first",
        ("institute_approval",),
        True,
        False,
        (EVERY + "test_an_institute_closes_only_overseen_and_is_flagged_once_due",),
    ),
    Rule(
        "expert panel",
        ("expert_panel",),
        True,
        False,
        (EVERY + "test_the_selection_steps_are_judged",),
        note=N_(
            "003's table 5 sets it for district bases; 000 and 002 set no panel size, and the ledger holds "
            "every programme to it (DESIGN)"
        ),
    ),
    Rule(
        "public notice",
        ("public_notice",),
        True,
        False,
        (EVERY + "test_the_selection_steps_are_judged",),
        note=N_(
            "002 sets it for municipal and national bases; 003 and 000 name a notice and no length, and the "
            "ledger holds every programme to it (DESIGN)"
        ),
    ),
    Rule(
        "selection order",
        ("approval_first", "review_order", "institute_approval", "municipal_approval"),
        True,
        False,
        (EVERY + "test_the_selection_steps_are_judged",),
    ),
    Rule(
        "objections settled", ("objections",), True, False, (EVERY + "test_the_selection_steps_are_judged",)
    ),
    Rule(
        "selection first",
        ("expert_review", "public_notice", "institute_approval", "municipal_approval"),
        True,
        False,
        (EVERY + "test_the_selection_steps_are_judged",),
    ),
    Rule("approving bodies", APPROVAL, True, False, (EVERY + "test_the_approval_is_judged",)),
    Rule(
        "district bureau",
        (*APPROVAL, "recommendation_required"),
        True,
        False,
        (
            "tests/test_district_bureaus.py::test_a_district_base_is_approved_by_its_own_districts_bureaus",
            "tests/test_district_bureaus.py::test_a_district_hr_bureau_recommends_its_own_districts_units",
            "tests/test_district_bureaus.py::test_a_units_district_stays_that_of_the_bureaus_that_acted_for_its_grants",
        ),
    ),
    Rule(
        "approval first",
        APPROVAL,
        True,
        True,
        (
            EVERY + "test_the_approval_is_judged",
            "tests/test_one_rulebook.py::test_other_acts_are_judged_by_their_own_rules",
        ),
    ),
    Rule(
        "subsidy amount",
        SUBSIDY,
        True,
        True,
        (
            EVERY + "test_the_approval_is_judged",
            EVERY + "test_stored_approvals_and_disposals_that_break_a_rule_are_findings",
        ),
    ),
    Rule(
        "build period",
        BUILD,
        True,
        True,
        (
            EVERY + "test_the_approval_is_judged",
            EVERY + "test_money_is_judged_by_its_rules",
            EVERY + "test_stored_money_that_breaks_a_rule_is_a_finding",
            "tests/test_programme_rules.py::test_an_institutes_build_period_is_its_approvals_and_cites_000",
            "tests/test_judge_as_it_stood.py::"
            "test_a_spend_after_the_period_had_ended_is_a_finding_though_a_later_extension_reaches_past_it",
        ),
        note=N_("000 sets an institute none: its period is the one its approval set"),
    ),
    Rule(
        "no subsidy",
        ("named_no_subsidy",),
        True,
        True,
        (
            EVERY + "test_one_base_a_level_and_one_institute",
            EVERY + "test_stored_approvals_and_disposals_that_break_a_rule_are_findings",
        ),
    ),
    # money
    Rule(
        "tranches within approval",
        SUBSIDY,
        True,
        True,
        (
            EVERY + "test_money_is_judged_by_its_rules",
            EVERY + "test_stored_money_that_breaks_a_rule_is_a_finding",
            "tests/test_judge_as_it_stood.py::test_a_tranche_above_the_approval_before_a_later_reversal_is_a_finding",
        ),
    ),
    Rule(
        "ring-fence",
        ("ring_fence",),
        True,
        True,
        (
            "tests/test_corrections.py::test_reversing_a_receipt_that_was_spent_is_refused_on_every_later_date",
            "tests/test_judge_dates.py::test_stored_acts_that_overdraw_a_date_are_findings_and_a_rebuild_agrees",
        ),
    ),
    Rule(
        "permitted category",
        ("permitted_uses", "institute_uses", "named_no_subsidy"),
        True,
        True,
        (
            EVERY + "test_money_is_judged_by_its_rules",
            EVERY + "test_stored_money_that_breaks_a_rule_is_a_finding",
        ),
    ),
    Rule(
        "banned category",
        ("banned_uses", "institute_uses", "named_no_subsidy"),
        True,
        True,
        (
            EVERY + "test_money_is_judged_by_its_rules",
            "tests/test_lifecycle.py::test_findings_list_exactly_the_known_breaches",
        ),
        note=N_(
            "000 第十三条 lists what an institute's money pays for and bans nothing by name: travel, labour "
            "and unrelated spending are refused as outside its list; 002 lists no uses, and municipal and "
            "national bases are held to 003 第九条's list (DESIGN)"
        ),
    ),
    Rule(
        "business date",
        ("ring_fence",),
        True,
        True,
        ("tests/test_judge_dates.py::test_a_business_date_after_today_is_refused_and_judged",),
    ),
    Rule(
        "correction date",
        ("supervision",),
        True,
        False,
        ("tests/test_redteam.py::test_a_correction_is_never_dated_before_the_report_it_corrects",),
    ),
    Rule(
        "rectification date",
        ("supervision",),
        True,
        False,
        (EVERY + "test_a_rectification_is_completed_on_or_after_its_order",),
    ),
    Rule(
        "reversal date",
        ("ring_fence",),
        True,
        True,
        ("tests/test_judge_dates.py::test_a_reversal_is_not_dated_before_what_it_reverses",),
    ),
    Rule(
        "recovery within order",
        ("supervision",),
        True,
        True,
        (
            EVERY + "test_money_is_judged_by_its_rules",
            "tests/test_one_rulebook.py::test_other_acts_are_judged_by_their_own_rules",
        ),
    ),
    Rule(
        "recovery date",
        ("supervision",),
        True,
        True,
        (
            EVERY + "test_a_recovery_is_received_on_or_after_its_first_order",
            EVERY + "test_the_recoveries_received_by_any_day_stay_within_the_orders_dated_by_that_day",
            "tests/test_one_rulebook.py::test_a_recovery_stored_before_its_order_is_a_finding",
            "tests/test_one_rulebook.py::test_a_recovery_stored_ahead_of_the_order_it_answers_is_a_finding",
        ),
        note=N_(
            "the clause has problems put right by a deadline and names no recovery; recoveries are DESIGN's, "
            "and the ledger holds a receipt to the orders made by its day: the receipts by any day stay "
            "within the orders by that day"
        ),
    ),
    Rule(
        "recoveries before disposal",
        ("closure",),
        True,
        True,
        (
            "tests/test_write_path_edges.py::test_disposing_of_the_subsidy_an_ordered_recovery_still_owes_is_refused_by_both_paths",
            EVERY + "test_stored_approvals_and_disposals_that_break_a_rule_are_findings",
        ),
    ),
    # the budget plan
    Rule(
        "budget total",
        ("budget_total", *SUBSIDY[1:]),
        True,
        False,
        (EVERY + "test_the_budget_plan_is_judged",),
    ),
    Rule(
        "budget first",
        ("budget_plan",),
        True,
        True,
        (
            EVERY + "test_the_budget_plan_is_judged",
            "tests/test_budget_line_dates.py::test_an_adjustment_comes_after_the_plan_it_changes",
            "tests/test_budget_line_dates.py::test_an_adjustment_of_no_plan_written_below_the_aggregate_is_a_finding",
        ),
        note=N_("an adjustment is dated on or after the plan it changes"),
    ),
    Rule(
        "approval reference",
        ("budget_plan",),
        True,
        False,
        (EVERY + "test_the_budget_plan_is_judged",),
        note=N_("a blank --approval is bad input, exit 2, before the rule"),
    ),
    Rule(
        "construction content",
        ("budget_plan",),
        True,
        True,
        (
            EVERY + "test_the_budget_plan_is_judged",
            "tests/test_construction_content.py::test_an_unknown_content_is_refused",
            "tests/test_construction_content.py::"
            "test_a_content_an_earlier_version_kept_as_typed_is_a_finding_is_repeated_and_reversed",
        ),
        note=N_(
            "a spend's --content is one of the budget plan's construction contents, by code or label; "
            "one an earlier version kept as typed is a finding until reversed"
        ),
    ),
    Rule(
        "budget line",
        ("budget_plan",),
        True,
        True,
        (
            EVERY + "test_the_budget_plan_is_judged",
            "tests/test_one_rulebook.py::test_a_stored_spend_beyond_its_budget_line_is_a_finding",
            "tests/test_budget_line_dates.py::test_a_spend_dated_between_a_spend_and_its_reversal_counts_on_those_dates",
            "tests/test_budget_line_dates.py::test_an_adjustment_is_judged_on_the_spending_standing_from_its_date",
            "tests/test_budget_line_dates.py::test_the_same_acts_written_below_the_aggregate_are_findings",
            "tests/test_budget_plan_complete.py::test_a_plan_leaving_out_a_content_spent_on_is_refused",
            "tests/test_budget_plan_complete.py::test_a_plan_leaving_out_spending_written_below_the_aggregate_is_a_finding",
        ),
        note=N_(
            "at the end of the act's date and of every later date, against the plan as it stood that day; "
            "a plan or adjustment is refused below what is spent on its line by then, a line the plan "
            "leaves out counting as 0.00"
        ),
    ),
    # closure
    Rule(
        "closure: final evaluation",
        ("closure",),
        True,
        False,
        (EVERY + "test_a_grant_closes_only_when_settled",),
    ),
    Rule(
        "closure date",
        ("closure",),
        True,
        False,
        (EVERY + "test_a_closure_is_dated_on_or_after_every_act_it_settles",),
    ),
    Rule(
        "closure: rectification",
        ("closure",),
        True,
        False,
        (EVERY + "test_a_grant_closes_only_when_settled",),
    ),
    Rule(
        "closure: recoveries", ("closure",), True, False, (EVERY + "test_a_grant_closes_only_when_settled",)
    ),
    Rule(
        "closure: balance", ("ring_fence",), True, False, (EVERY + "test_a_grant_closes_only_when_settled",)
    ),
    Rule(
        "grant closed",
        ("ring_fence",),
        True,
        True,
        (
            EVERY + "test_a_grant_closes_only_when_settled",
            EVERY + "test_stored_money_that_breaks_a_rule_is_a_finding",
        ),
    ),
    Rule(
        "institute oversight",
        ("institute_closure",),
        True,
        True,
        (EVERY + "test_an_institute_closes_only_overseen_and_is_flagged_once_due",),
    ),
    # what the books show later
    Rule(
        "matching 1:1",
        ("district_matching", "institute_matching"),
        False,
        True,
        ("tests/test_missing_findings.py::test_the_matching_gap_is_the_1_to_1_findings_shortfall",),
    ),
    Rule(
        "balance after the build period",
        BUILD,
        False,
        True,
        (
            "tests/test_missing_findings.py::test_money_held_after_the_build_period_is_a_finding_until_disposed",
        ),
    ),
    Rule(
        "output target",
        ("district_outputs_after", "institute_training", "institute_evaluation", "national_outputs"),
        False,
        True,
        (EVERY + "test_an_output_below_its_target_is_a_finding_from_the_year_the_target_runs",),
        note=N_(
            "003 第十一条(二) states a yearly training capacity (年培训能力) of 500; the ledger judges the "
            "advanced trainees each year's output report states, from the build start's year + 2 (DESIGN)"
        ),
    ),
    Rule(
        "rectification overdue",
        SUPERVISION,
        False,
        True,
        ("tests/test_missing_findings.py::test_findings_as_of_a_day_leave_out_what_was_dated_later",),
    ),
    Rule(
        "low execution",
        SUPERVISION,
        False,
        True,
        ("tests/test_lifecycle.py::test_findings_list_exactly_the_known_breaches",),
        note=N_(
            "under half the money spent with three quarters of the build period gone: the ledger's own "
            "thresholds; the clauses ask for staged evaluation and name no figure"
        ),
    ),
)

BY_NAME = {rule.name: rule for rule in RULES}


def rows(policy: Policy, zh: bool) -> list[tuple[str, str, str, str, str]]:
    """The table of rules: name, citation, the clauses' words, refused/flagged, the tests."""
    return [(r.name, r.cites(policy), r.words(policy), r.mode(zh), "; ".join(r.tests)) for r in RULES]


def headers(zh: bool) -> list[str]:
    return (
        ["规则", "依据", "条款原文", "处理", "测试"]
        if zh
        else ["rule", "clause", "words", "refused/flagged", "test"]
    )


def text(policy: Policy, zh: bool) -> str:
    """The table to read in a terminal: each rule, then its clauses' words and its tests."""
    out = []
    for r in RULES:
        out.append(f"{label('rule', r.name) if zh else r.name} — {r.mode(zh)}")
        if r.cite:
            out.append(f"  {_(r.cite) if zh else r.cite}")
        for key in r.clauses:
            clause = policy.clause(key)
            out.append(f"  {clause.cite}: “{clause.words}”")
        out.extend(f"  {'测试' if zh else 'test'}: {t}" for t in r.tests)
    return "\n".join(out)


def markdown(policy: Policy, zh: bool = False) -> str:
    """The table as markdown (the README's section on the rules)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers(zh)) + " |", "|" + "---|" * len(headers(zh))]
    for row in rows(policy, zh):
        name, cite, words, mode, tests = row
        shown = "<br>".join(f"`{t}`" for t in tests.split("; "))
        lines.append(f"| {cell(name)} | {cell(cite)} | {cell(words)} | {cell(mode)} | {shown} |")
    return "\n".join(lines) + "\n"
