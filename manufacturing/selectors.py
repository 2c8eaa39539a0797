"""Named reads for manufacturing: list querysets with their select/prefetch, and the BOM graph (cycles,
explosion, cost roll-up).

The graph: a part's sub-assemblies are the components that have an *active* BOM of their own; those are
exploded through that BOM, every other component is a leaf (bought or stocked). Drafts and obsolete BOMs
are never followed. The graph is loaded one level per round trip (two queries per level), whatever the
number of lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from django.db.models import F, Prefetch, QuerySet, Sum

from inventory.models import InventoryItem, Location, StockLevel
from manufacturing.errors import BomCycle
from manufacturing.models import (
    BillOfMaterials,
    BillOfMaterialsLineItem,
    ManufactureOrder,
    ManufactureOrderLineItem,
    WorkOrder,
    WorkOrderLineItem,
)
from manufacturing.states import BOM_LINE_COUNTED, BomStatus

# ---- lists -------------------------------------------------------------------------------------------------


def bom_list() -> QuerySet[BillOfMaterials]:
    lines = BillOfMaterialsLineItem.objects.select_related("item")
    return BillOfMaterials.objects.select_related("part").prefetch_related(Prefetch("line_items", queryset=lines))


def bom_line_list() -> QuerySet[BillOfMaterialsLineItem]:
    return BillOfMaterialsLineItem.objects.select_related("item", "bill_of_materials")


def work_order_list() -> QuerySet[WorkOrder]:
    lines = WorkOrderLineItem.objects.select_related("item")
    related = ("part", "location", "bill_of_materials", "manufacture_order")
    return WorkOrder.objects.select_related(*related).prefetch_related(
        Prefetch("work_order_line_items", queryset=lines)
    )


def work_order_line_list() -> QuerySet[WorkOrderLineItem]:
    return WorkOrderLineItem.objects.select_related("item", "work_order")


def manufacture_order_list() -> QuerySet[ManufactureOrder]:
    lines = ManufactureOrderLineItem.objects.select_related("item", "bill_of_materials", "work_order", "yield_location")
    return ManufactureOrder.objects.select_related("yield_location").prefetch_related(
        Prefetch("manufacture_order_line_items", queryset=lines)
    )


def manufacture_order_line_list() -> QuerySet[ManufactureOrderLineItem]:
    return ManufactureOrderLineItem.objects.select_related(
        "item", "bill_of_materials", "work_order", "yield_location", "manufacture_order"
    )


def active_bom_for(item: InventoryItem) -> BillOfMaterials | None:
    return BillOfMaterials.objects.filter(part=item, status=BomStatus.ACTIVE).first()


def counted_lines(bom: BillOfMaterials) -> list[BillOfMaterialsLineItem]:
    """The lines that count (not Inactive), with their items; uses a prefetch when there is one."""
    return [line for line in bom.line_items.all() if line.status in BOM_LINE_COUNTED]


# ---- the graph ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """`quantity` units of `item` per unit of the parent."""

    item: InventoryItem
    quantity: int
    part_name: str = ""


@dataclass
class Graph:
    """Each loaded part's active BOM (or None for a leaf) and its counted lines as edges."""

    boms: dict[int, BillOfMaterials | None] = field(default_factory=dict)
    edges: dict[int, list[Edge]] = field(default_factory=dict)

    def children(self, item_id: int) -> list[Edge]:
        return self.edges.get(item_id, [])


def _edges(lines: Iterable[BillOfMaterialsLineItem]) -> list[Edge]:
    return [Edge(line.item, line.quantity, line.part_name) for line in lines if line.status in BOM_LINE_COUNTED]


def load_graph(root_part_id: int | None, root_edges: Sequence[Edge]) -> Graph:
    """The root's edges as given, then every active BOM reachable from them, one level per round trip.
    The root part's own active BOM is never loaded: reaching the root again is a cycle."""
    graph = Graph()
    if root_part_id is not None:
        graph.boms[root_part_id] = None
        graph.edges[root_part_id] = list(root_edges)
    frontier = {edge.item.pk for edge in root_edges} - graph.edges.keys()
    lines = BillOfMaterialsLineItem.objects.filter(status__in=BOM_LINE_COUNTED).select_related("item")
    while frontier:
        boms = BillOfMaterials.objects.filter(part_id__in=frontier, status=BomStatus.ACTIVE).prefetch_related(
            Prefetch("line_items", queryset=lines)
        )
        found = {bom.part_id: bom for bom in boms}
        for item_id in frontier:
            bom = found.get(item_id)
            graph.boms[item_id] = bom
            graph.edges[item_id] = _edges(bom.line_items.all()) if bom else []
        frontier = {edge.item.pk for item_id in frontier for edge in graph.edges[item_id]} - graph.edges.keys()
    return graph


def find_cycle(graph: Graph, root: InventoryItem) -> list[str] | None:
    """A path by which `root` needs itself, as SKUs (`["A", "B", "C", "A"]`), or None."""
    safe: set[int] = set()

    def visit(item_id: int, path: list[InventoryItem]) -> list[str] | None:
        for edge in graph.children(item_id):
            child = edge.item
            if child.pk == root.pk or any(step.pk == child.pk for step in path):
                return [step.sku for step in path] + [child.sku]
            if child.pk in safe:
                continue
            found = visit(child.pk, [*path, child])
            if found:
                return found
        safe.add(item_id)
        return None

    return visit(root.pk, [root])


def bom_cycle_path(*, part: InventoryItem, components: Iterable[InventoryItem]) -> list[str] | None:
    """Would a BOM making `part` from `components` make the part need itself, at any depth, through the
    active BOMs of the components? Returns the path as SKUs, or None."""
    edges = [Edge(item, 1) for item in components]
    return find_cycle(load_graph(part.pk, edges), part)


def raise_on_cycle(path: list[str] | None) -> None:
    if path:
        text = " → ".join(path)
        raise BomCycle(
            f"This bill of materials would make {path[0]} need itself: {text}.",
            errors={"line_items": f"cycle {text}"},
        )


def _bom_graph(bom: BillOfMaterials) -> Graph:
    edges = _edges(bom.line_items.all())
    if bom.part_id is None:
        # A draft without a part: explode its lines as they are (the root is nobody's component).
        graph = load_graph(None, edges)
        graph.edges[0] = edges
        return graph
    graph = load_graph(bom.part_id, edges)
    raise_on_cycle(find_cycle(graph, bom.part))  # a guard: services refuse cycles before they are stored
    return graph


def _root_id(bom: BillOfMaterials) -> int:
    return bom.part_id if bom.part_id is not None else 0


# ---- explosion ---------------------------------------------------------------------------------------------


@dataclass
class TreeRow:
    level: int
    item: InventoryItem
    part_name: str
    quantity_per: int
    quantity: int
    bom: BillOfMaterials | None


def available_by_item(item_ids: Iterable[int], location: Location | None = None) -> dict[int, int]:
    """Available (on hand minus allocated) per item, summed over every location or at `location`."""
    levels = StockLevel.objects.filter(item_id__in=set(item_ids))
    if location is not None:
        levels = levels.filter(location=location)
    rows = levels.order_by().values("item_id").annotate(available=Sum(F("on_hand") - F("allocated")))
    return {row["item_id"]: row["available"] for row in rows}


def bom_explode(*, bill_of_materials: BillOfMaterials, quantity: int = 1, location: Location | None = None) -> dict:
    """The multi-level requirements of `quantity` units: the tree (depth first, sub-assemblies exploded
    through their active BOMs) and the leaf components flattened, each with its total quantity, available
    stock (over all locations, or at `location`) and shortage. Gross requirements: stock of a sub-assembly
    does not reduce what its components are needed for."""
    bom = bill_of_materials
    graph = _bom_graph(bom)
    rows: list[TreeRow] = []
    leaves: dict[int, int] = defaultdict(int)
    items: dict[int, InventoryItem] = {}

    def walk(item_id: int, multiplier: int, level: int) -> None:
        for edge in graph.children(item_id):
            total = edge.quantity * multiplier
            sub = graph.boms.get(edge.item.pk)
            items[edge.item.pk] = edge.item
            rows.append(TreeRow(level, edge.item, edge.part_name or edge.item.description, edge.quantity, total, sub))
            if sub is not None:
                walk(edge.item.pk, total, level + 1)
            else:
                leaves[edge.item.pk] += total

    walk(_root_id(bom), quantity, 1)
    available = available_by_item(items, location)

    def shortage(item_id: int, needed: int) -> int:
        return max(0, needed - available.get(item_id, 0))

    components = [
        {
            "part_number": items[item_id].sku,
            "part_name": items[item_id].description,
            "quantity": needed,
            "available": available.get(item_id, 0),
            "shortage": shortage(item_id, needed),
        }
        for item_id, needed in sorted(leaves.items(), key=lambda kv: items[kv[0]].sku)
    ]
    tree = [
        {
            "level": row.level,
            "part_number": row.item.sku,
            "part_name": row.part_name,
            "quantity_per": row.quantity_per,
            "quantity": row.quantity,
            "bill_of_materials_number": row.bom.number if row.bom else None,
            "available": available.get(row.item.pk, 0),
            "shortage": None if row.bom else shortage(row.item.pk, row.quantity),
        }
        for row in rows
    ]
    return {
        "object": "bill_of_materials_explosion",
        "bill_of_materials": bom.pk,
        "number": bom.number,
        "part": bom.part.sku if bom.part_id else None,
        "revision": bom.revision,
        "status": bom.status,
        "quantity": quantity,
        "location": location.code if location else None,
        "components": components,
        "has_shortage": any(c["shortage"] for c in components),
        "tree": tree,
    }


# ---- cost --------------------------------------------------------------------------------------------------


def bom_cost(*, bill_of_materials: BillOfMaterials, quantity: int = 1) -> dict:
    """The rolled-up unit cost: Σ line quantity × the component's unit cost, where a sub-assembly's unit
    cost is its own active BOM's rolled-up cost and any other component's is its item's `unit_cost`.
    With the per-line breakdown of this BOM's (counted) lines."""
    bom = bill_of_materials
    graph = _bom_graph(bom)
    memo: dict[int, Decimal] = {}

    def unit_cost(item: InventoryItem) -> Decimal:
        if graph.boms.get(item.pk) is None:
            return Decimal(item.unit_cost)
        if item.pk not in memo:
            memo[item.pk] = sum((edge.quantity * unit_cost(edge.item) for edge in graph.children(item.pk)), Decimal(0))
        return memo[item.pk]

    lines = []
    for edge in graph.children(_root_id(bom)):
        sub = graph.boms.get(edge.item.pk)
        cost = unit_cost(edge.item)
        lines.append(
            {
                "part_number": edge.item.sku,
                "part_name": edge.part_name or edge.item.description,
                "quantity": edge.quantity,
                "unit_cost": _money(cost),
                "extended_cost": _money(cost * edge.quantity),
                "cost_source": "bill_of_materials" if sub else "unit_cost",
                "bill_of_materials_number": sub.number if sub else None,
            }
        )
    total = sum((Decimal(line["extended_cost"]) for line in lines), Decimal(0))
    return {
        "object": "bill_of_materials_cost",
        "bill_of_materials": bom.pk,
        "number": bom.number,
        "part": bom.part.sku if bom.part_id else None,
        "revision": bom.revision,
        "quantity": quantity,
        "unit_cost": _money(total),
        "total_cost": _money(total * quantity),
        "lines": lines,
    }


def _money(value: Decimal) -> str:
    # Costs multiply quantities level by level down a BOM: two levels of 1,000,000 a unit at 9,999,999,999.99
    # need more digits to the cent than the default context's 28 (quantize raised InvalidOperation, a 500).
    value = Decimal(value)
    with localcontext(prec=max(28, value.adjusted() + 3)):
        return str(value.quantize(Decimal("0.01")))
