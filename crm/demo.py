"""Demo customers for `make run` (seed_demo)."""

from tqdm import tqdm

from crm import services
from crm.models import Customer

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


def seed(*, by, progress: bool = True) -> str:
    if Customer.objects.filter(email__endswith="@demo.stateset.test").exists():
        return "demo customers already present"
    created = 0
    for i in tqdm(range(len(FIRST)), desc="customers", disable=not progress):
        services.customer_create(
            by=by,
            email=f"{FIRST[i].lower()}.{LAST[i].lower()}@demo.stateset.test",
            first_name=FIRST[i],
            last_name=LAST[i],
            phone=f"555-010-{i:04d}",
            sso_id=f"sso-demo-{i:04d}",
            stripe_customer_id=f"cus_demo{i:04d}",
        )
        created += 1
    return f"{created} customers"
