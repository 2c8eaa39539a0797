"""Demo customers, leads and cases for `make run` (seed_demo), written through the services. Each part is
skipped when its demo rows are already there, so running the command twice is harmless."""

from tqdm import tqdm

from crm import services
from crm.models import Case, Customer, Lead

DOMAIN = "demo.stateset.test"
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus"]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Torvalds",
]

# (first name, last name, lead source, the actions that bring it to its demo status)
LEADS = [
    ("Claude", "Shannon", "Web", []),
    ("John", "Backus", "Trade show", ["lead_engage"]),
    ("Niklaus", "Wirth", "Referral", ["lead_engage", "lead_accept"]),
    ("Tony", "Hoare", "Web", ["lead_reject"]),
    ("Radia", "Perlman", "Referral", ["lead_engage", "lead_accept", "lead_convert"]),
    ("Ada", "Lovelace", "Newsletter", ["lead_engage", "lead_accept", "lead_convert"]),  # an existing customer
]

# (case name, priority, index of the demo customer, the actions that bring it to its demo status)
CASES = [
    ("Parcel arrived damaged", "high", 0, []),
    ("Wrong size delivered", "medium", 1, ["case_escalate"]),
    ("Refund not received", "urgent", 2, ["case_escalate", "case_resolve"]),
    ("Change delivery address", "low", 3, ["case_resolve", "case_close"]),
    ("Missing invoice", "medium", None, ["case_close", "case_reopen"]),
]


def seed(*, by, progress: bool = True) -> str:
    return ", ".join([_customers(by, progress), _leads(by, progress), _cases(by, progress)])


def _customers(by, progress: bool) -> str:
    if Customer.objects.filter(email__endswith=f"@{DOMAIN}").exists():
        return "demo customers already present"
    for i in tqdm(range(len(FIRST)), desc="customers", disable=not progress):
        services.customer_create(
            by=by,
            email=f"{FIRST[i].lower()}.{LAST[i].lower()}@{DOMAIN}",
            first_name=FIRST[i],
            last_name=LAST[i],
            phone=f"555-010-{i:04d}",
            sso_id=f"sso-demo-{i:04d}",
            stripe_customer_id=f"cus_demo{i:04d}",
        )
    return f"{len(FIRST)} customers"


def _leads(by, progress: bool) -> str:
    if Lead.objects.filter(email__endswith=f"@{DOMAIN}").exists():
        return "demo leads already present"
    for first, last, source, actions in tqdm(LEADS, desc="leads", disable=not progress):
        lead = services.lead_create(
            by=by,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}@{DOMAIN}",
            lead_source=source,
        )
        for action in actions:
            lead = getattr(services, action)(lead=lead, by=by, reason="demo")
    return f"{len(LEADS)} leads"


def _cases(by, progress: bool) -> str:
    if Case.objects.filter(submitter__endswith=f"@{DOMAIN}").exists():
        return "demo cases already present"
    customers = list(Customer.objects.filter(email__endswith=f"@{DOMAIN}").order_by("pk"))
    for name, priority, index, actions in tqdm(CASES, desc="cases", disable=not progress):
        customer = customers[index] if index is not None and index < len(customers) else None
        case = services.case_create(
            by=by,
            case_name=name,
            priority=priority,
            customer=customer,
            submitter=customer.email if customer else f"support@{DOMAIN}",
            description=f"Demo case: {name.lower()}.",
        )
        for action in actions:
            case = getattr(services, action)(case=case, by=by, reason="demo")
    return f"{len(CASES)} cases"
