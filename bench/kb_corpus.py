"""Filler for a realistic 1,000-chunk knowledge base: the fixture documents' neighbours.

A vendor's knowledge base is mostly pages near the one that answers: release notes, help-centre
how-tos, customer stories and blog posts about the same product, in the same words (drivers,
routes, depots, the driver app). They make retrieval harder than random text would, which is the
point. They stay off the subjects the question set asks about (prices, plans, sign-in, security,
support hours, integrations), so a question's answer is still the fixture section, not filler.
Seeded, so every run builds the same base.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from knowledge.chunks import Chunk

__all__ = ["filler_chunks"]

_AREAS = [
    "the dispatch board", "the live map", "the route optimiser", "the reports page", "the driver app",
    "the stop list", "the depot settings", "the vehicle list", "the route timeline", "the delivery calendar",
]  # fmt: skip
_CHANGES = [
    "now remembers the last filter you used in {area}",
    "shows a clearer warning in {area} when a stop has no coordinates",
    "loads {area} up to {n} percent faster for fleets with many stops",
    "lets dispatchers drag several stops at once in {area}",
    "fixes a bug where {area} showed yesterday's routes after midnight",
    "adds keyboard shortcuts to {area} for the most common actions",
    "groups nearby stops into clusters in {area} when zoomed out",
    "adds a dark colour scheme to {area} for night shifts",
    "keeps {area} in sync across browser tabs without a reload",
    "shows each driver's break in {area} as a grey block",
    "exports {area} to PDF with the company logo in the header",
    "highlights stops added after dispatch in {area}",
]
_INDUSTRIES = [
    ("a bakery chain", "bread and pastries", "before the shops open"),
    ("a furniture retailer", "sofas and wardrobes", "two-person deliveries"),
    ("a wholesale florist", "cut flowers", "cold-chain vans"),
    ("a pharmacy group", "prescriptions", "same-day rounds"),
    ("a building supplier", "timber and bricks", "crane trucks"),
    ("a laundry service", "hotel linen", "daily pickups and drops"),
    ("a meal-kit company", "chilled boxes", "evening deliveries"),
    ("a parcel courier", "small parcels", "high-density city rounds"),
    ("a water cooler firm", "bottled water", "repeat customers every fortnight"),
    ("a waste collector", "commercial bins", "fixed weekly routes"),
]
_CITIES = ["Leeds", "Lyon", "Denver", "Porto", "Austin", "Ghent", "Bristol", "Tampa", "Utrecht", "Calgary"]
_NAMES = [
    "Harbor",
    "Northgate",
    "Bluefield",
    "Kestrel",
    "Oakline",
    "Riverside",
    "Summit",
    "Meadow",
    "Ironbridge",
]
_TASKS = [
    (
        "re-plan a route after a van breaks down",
        "Open the route, choose Reassign stops, and pick the vehicles that should "
        "take over. The optimiser keeps the other routes as they are and only moves the stranded stops.",
    ),
    (
        "split one depot's stops between two shifts",
        "Create a second shift on the depot, then run planning "
        "with both shifts selected. Stops with early windows land on the morning shift.",
    ),
    (
        "lock a stop to a particular driver",
        "Open the stop, choose Assign to driver, and tick Keep on re-plan. "
        "The optimiser then plans around it instead of moving it.",
    ),
    (
        "print manifests for the loading bay",
        "From the dispatch board choose Print, then Loading manifest. "
        "Stops are listed in reverse order so the last drop is loaded first.",
    ),
    (
        "set a service time for large customers",
        "Open the customer record and enter how many minutes a "
        "delivery usually takes there. Routes then allow for it at every visit.",
    ),
    (
        "archive old routes",
        "Routes older than the period you choose move to the archive overnight. "
        "Archived routes still appear in reports but no longer on the dispatch board.",
    ),
    (
        "mark a road as closed",
        "Draw the closed stretch on the live map and give it an end date. "
        "Routes planned before the end date avoid it.",
    ),
    (
        "add a new depot",
        "Enter the depot's address and opening hours under Depots. Vehicles can then "
        "start and end their shifts there, or start at one depot and end at another.",
    ),
    (
        "change the order of stops by hand",
        "Drag the stop in the route timeline. The arrival times of the "
        "stops after it are recalculated at once, and a warning shows if a window would be missed.",
    ),
    (
        "rename a vehicle",
        "Open the vehicle list, choose the vehicle and edit its name. Past routes keep "
        "showing the name the vehicle had when they were driven.",
    ),
]
_TIPS = [
    (
        "Cutting empty miles",
        "Empty miles are the kilometres a vehicle drives with nothing to deliver, "
        "usually on the way back to the depot. Planning pickups on the return leg is the quickest win.",
    ),
    (
        "Planning for winter",
        "Winter adds minutes to every stop: slower roads, darker evenings and icy "
        "steps. Many fleets add a seasonal buffer to service times from November to February.",
    ),
    (
        "Keeping drivers",
        "Drivers stay longer when their routes are predictable. Keeping the same driver "
        "on the same area builds local knowledge and fewer failed deliveries.",
    ),
    (
        "Measuring on-time delivery",
        "On-time rate only means something when the window was promised to "
        "the customer. Count a delivery as late against the promised window, not the planned arrival.",
    ),
    (
        "Loading vans in stop order",
        "A van loaded in reverse stop order saves minutes at every door. "
        "Print the loading list the evening before so the morning shift can load quickly.",
    ),
    (
        "Fewer failed deliveries",
        "Most failed deliveries happen because nobody was home. A message on the "
        "morning of delivery with a narrow window halves the number of second attempts.",
    ),
    (
        "Right-sizing the fleet",
        "Look at utilisation by weekday before buying another van: many fleets "
        "find that one busy day drives the fleet size, and moving some of its orders is cheaper.",
    ),
    (
        "Electric vans on longer rounds",
        "Range matters less than charging time. Plan longer rounds for "
        "electric vans that charge at the depot overnight, and keep diesel vans for the outliers.",
    ),
]


def _release_notes(rng: random.Random, count: int) -> Iterator[Chunk]:
    for i in range(count):
        version = f"{4 + i // 40}.{i % 40}"
        changes = rng.sample(_CHANGES, 4)
        lines = [
            "- " + c.format(area=rng.choice(_AREAS), n=rng.choice([20, 30, 40, 60])).capitalize() + "."
            for c in changes
        ]
        intro = f"Release {version} reached every account over the weekend. What changed:"
        yield Chunk("release-notes.md", f"Release notes > Release {version}", "\n".join([intro, *lines]))


def _stories(rng: random.Random, count: int) -> Iterator[Chunk]:
    for i in range(count):
        who, goods, detail = rng.choice(_INDUSTRIES)
        name = f"{rng.choice(_NAMES)} {rng.choice(['Foods', 'Supply', 'Logistics', 'Group', 'Direct'])}"
        city = rng.choice(_CITIES)
        vans, saved, hours = rng.randint(8, 140), rng.randint(8, 31), rng.randint(2, 12)
        text = (
            f"{name} is {who} in {city} delivering {goods} with {vans} vehicles, mostly {detail}. "
            f"Before Routewise, two planners spent {hours} hours every morning building routes by hand "
            f"from a wall map and a whiteboard. Routes were planned by habit: the same driver took the "
            f"same area whether it had five stops or fifty. Within a month of switching, the planners "
            f"built the day's routes in minutes, total driving distance fell by {saved} percent, and "
            f'drivers finished their rounds earlier. "The biggest change is the calm in the depot at '
            f'six in the morning," says their operations lead.'
        )
        yield Chunk(f"customers/story-{i:03d}.md", f"Customer stories > {name}, {city}", text)


def _how_tos(rng: random.Random, count: int) -> Iterator[Chunk]:
    for i in range(count):
        task, steps = _TASKS[i % len(_TASKS)]
        area = rng.choice(_AREAS)
        text = (
            f"{steps} You can also reach this from {area}. Changes apply to routes that have not been "
            f"dispatched yet; for a route already on the road, the driver's app updates within a minute "
            f"and shows what changed. Administrators can see who made each change in the activity log."
        )
        yield Chunk(f"help/how-to-{i:03d}.md", f"Help centre > How to {task}", text)


def _blog(rng: random.Random, count: int) -> Iterator[Chunk]:
    for i in range(count):
        title, body = _TIPS[i % len(_TIPS)]
        who, goods, _ = rng.choice(_INDUSTRIES)
        text = (
            f"{body} For {who} delivering {goods}, the effect shows within weeks: fewer kilometres, "
            f"fewer overtime hours and fewer calls from customers asking where their order is. "
            f"Start by measuring one depot for a fortnight, change one thing, and measure again."
        )
        yield Chunk(f"blog/post-{i:03d}.md", f"Blog > {title} ({rng.choice(_CITIES)} edition)", text)


def filler_chunks(count: int, seed: int = 7) -> list[Chunk]:
    """`count` chunks of release notes, how-tos, customer stories and blog posts, always the same."""
    rng = random.Random(seed)
    share = count // 4
    chunks = [
        *_release_notes(rng, share),
        *_stories(rng, share),
        *_how_tos(rng, share),
        *_blog(rng, count - 3 * share),
    ]
    return chunks
