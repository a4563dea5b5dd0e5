"""The demo catalog `seed_demo` loads: fixed data, so every run of the shop starts from the same shelves."""

from __future__ import annotations

from typing import NamedTuple


class DemoCategory(NamedTuple):
    slug: str
    name: str
    description: str


class DemoProduct(NamedTuple):
    sku: str
    name: str
    description: str
    price: str
    stock: int
    active: bool = True


CATEGORIES: tuple[DemoCategory, ...] = (
    DemoCategory("kitchen", "Kitchen", "Cookware, tools and tableware for everyday cooking."),
    DemoCategory("home-office", "Home Office", "Desks, chairs, lighting and accessories for working from home."),
    DemoCategory("outdoor", "Outdoor", "Gear for hiking, camping and long days outside."),
    DemoCategory("audio", "Audio", "Headphones, speakers and everything that makes sound."),
    DemoCategory("books", "Books", "Fiction, cookbooks and practical guides."),
    DemoCategory("fitness", "Fitness", "Equipment and apparel for training at home or at the gym."),
    DemoCategory("garden", "Garden", "Tools, planters and seeds for balconies and backyards."),
)

PRODUCTS: dict[str, tuple[DemoProduct, ...]] = {
    "kitchen": (
        DemoProduct(
            "KIT-001",
            "Cast Iron Skillet 26 cm",
            "Pre-seasoned cast iron pan that goes from stove to oven.",
            "39.90",
            42,
        ),
        DemoProduct(
            "KIT-002",
            "Chef's Knife 20 cm",
            "Forged stainless steel blade with a full tang and riveted handle.",
            "59.00",
            25,
        ),
        DemoProduct(
            "KIT-003", "Bamboo Cutting Board", "Large end-grain bamboo board with a juice groove.", "24.50", 60
        ),
        DemoProduct(
            "KIT-004",
            "Stainless Steel Saucepan 2 L",
            "Tri-ply saucepan with a glass lid, induction ready.",
            "44.00",
            18,
        ),
        DemoProduct(
            "KIT-005", "Ceramic Pour-Over Coffee Dripper", "Hand-glazed dripper for size 02 paper filters.", "22.00", 35
        ),
        DemoProduct(
            "KIT-006", "Glass Food Storage Set", "Five borosilicate containers with snap-lock lids.", "34.99", 0
        ),
        DemoProduct(
            "KIT-007", "Digital Kitchen Scale", "Weighs up to 5 kg in 1 g steps, with a tare button.", "18.90", 80
        ),
        DemoProduct(
            "KIT-008", "Enamelled Dutch Oven 4.5 L", "Heavy cast iron pot for braises, stews and bread.", "119.00", 9
        ),
        DemoProduct(
            "KIT-009", "Silicone Spatula Set", "Three heat-resistant spatulas in different sizes.", "12.50", 120
        ),
        DemoProduct(
            "KIT-010", "Stoneware Dinner Plates (4)", "Matte grey stoneware plates, dishwasher safe.", "48.00", 30
        ),
    ),
    "home-office": (
        DemoProduct(
            "OFF-001", "Oak Standing Desk", "Electric height-adjustable desk with a solid oak top.", "649.00", 6
        ),
        DemoProduct(
            "OFF-002",
            "Ergonomic Mesh Chair",
            "Breathable mesh back, adjustable lumbar support and armrests.",
            "289.00",
            14,
        ),
        DemoProduct(
            "OFF-003", "LED Desk Lamp", "Dimmable lamp with adjustable colour temperature and USB-C port.", "54.90", 40
        ),
        DemoProduct(
            "OFF-004", "Felt Desk Mat", "Large wool felt mat that protects the desk and dampens sound.", "29.00", 55
        ),
        DemoProduct("OFF-005", "Monitor Arm", "Gas-spring arm for screens up to 32 inches.", "79.00", 22),
        DemoProduct(
            "OFF-006",
            "Wireless Mechanical Keyboard",
            "Low-profile switches, Bluetooth and USB-C, backlit keys.",
            "119.00",
            0,
        ),
        DemoProduct("OFF-007", "Laptop Stand", "Aluminium stand that raises the screen to eye level.", "39.00", 70),
        DemoProduct(
            "OFF-008", "Cable Management Tray", "Under-desk steel tray that hides power strips and cables.", "26.50", 48
        ),
        DemoProduct(
            "OFF-009", "Noise-Cancelling Desk Screen", "Acoustic panel that clips onto the desk edge.", "95.00", 11
        ),
        DemoProduct("OFF-010", "Notebook Set A5 (3)", "Dotted pages, lay-flat binding, 120 g paper.", "16.00", 150),
    ),
    "outdoor": (
        DemoProduct(
            "OUT-001",
            "Trail Running Shoes",
            "Grippy lugged sole and a breathable upper for rough trails.",
            "129.00",
            28,
        ),
        DemoProduct(
            "OUT-002", "Two-Person Backpacking Tent", "Free-standing tent at 1.6 kg with two doors.", "319.00", 7
        ),
        DemoProduct(
            "OUT-003", "Down Sleeping Bag -5 °C", "Lightweight goose-down bag with a compression sack.", "249.00", 12
        ),
        DemoProduct(
            "OUT-004", "Insulated Water Bottle 750 ml", "Keeps drinks cold for 24 hours or hot for 12.", "29.90", 95
        ),
        DemoProduct(
            "OUT-005", "Hiking Backpack 38 L", "Ventilated back panel, rain cover and hip-belt pockets.", "139.00", 19
        ),
        DemoProduct("OUT-006", "Headlamp 400 lm", "Rechargeable headlamp with a red night mode.", "34.00", 64),
        DemoProduct("OUT-007", "Trekking Poles (pair)", "Carbon poles with cork grips and flick locks.", "89.00", 0),
        DemoProduct(
            "OUT-008", "Camping Stove", "Compact canister stove that boils a litre in under four minutes.", "49.00", 33
        ),
        DemoProduct("OUT-009", "Merino Wool Beanie", "Soft, warm and itch-free merino beanie.", "24.00", 57),
        DemoProduct("OUT-010", "Rain Jacket", "Three-layer waterproof shell with taped seams.", "179.00", 16),
    ),
    "audio": (
        DemoProduct(
            "AUD-001",
            "Wireless Noise-Cancelling Headphones",
            "Over-ear headphones with 30 hours of battery.",
            "249.00",
            24,
        ),
        DemoProduct(
            "AUD-002", "True Wireless Earbuds", "Compact earbuds with a charging case and ambient mode.", "129.00", 45
        ),
        DemoProduct(
            "AUD-003", "Bookshelf Speakers (pair)", "Passive two-way speakers with walnut veneer.", "299.00", 8
        ),
        DemoProduct(
            "AUD-004", "Portable Bluetooth Speaker", "Waterproof speaker with 12 hours of playback.", "79.00", 50
        ),
        DemoProduct(
            "AUD-005", "USB Condenser Microphone", "Cardioid microphone for podcasts and video calls.", "99.00", 0
        ),
        DemoProduct(
            "AUD-006",
            "Turntable with Built-in Preamp",
            "Belt-drive turntable with a switchable phono stage.",
            "229.00",
            10,
        ),
        DemoProduct(
            "AUD-007", "Studio Monitor Headphones", "Closed-back headphones with a flat, honest sound.", "149.00", 21
        ),
        DemoProduct("AUD-008", "Headphone Stand", "Walnut stand that keeps headphones off the desk.", "35.00", 38),
        DemoProduct(
            "AUD-009", "Streaming Amplifier", "Compact amplifier with Wi-Fi streaming and HDMI ARC.", "499.00", 5
        ),
        DemoProduct(
            "AUD-010", "Braided Audio Cable 1.5 m", "3.5 mm stereo cable with gold-plated plugs.", "12.00", 200
        ),
    ),
    "books": (
        DemoProduct("BOK-001", "The Practical Sourdough Book", "A year of bread, from starter to rye.", "28.00", 34),
        DemoProduct(
            "BOK-002",
            "Field Guide to Mountain Birds",
            "Illustrated guide to 300 species of the high country.",
            "32.50",
            17,
        ),
        DemoProduct("BOK-003", "Designing Data Systems", "How databases, queues and caches fit together.", "54.00", 26),
        DemoProduct(
            "BOK-004", "The Quiet Lighthouse", "A novel about a keeper, a storm and a missing ship.", "18.99", 61
        ),
        DemoProduct(
            "BOK-005", "Vegetables Every Day", "Two hundred weeknight recipes built around vegetables.", "36.00", 22
        ),
        DemoProduct(
            "BOK-006",
            "A Short History of Maps",
            "How people drew the world, from clay tablets to satellites.",
            "24.00",
            0,
        ),
        DemoProduct(
            "BOK-007",
            "Beginner's Guide to Woodworking",
            "Tools, joints and ten projects for the first workshop.",
            "29.00",
            13,
        ),
        DemoProduct(
            "BOK-008", "Stars Over the Desert", "A travel memoir across three deserts in one year.", "21.50", 29
        ),
        DemoProduct(
            "BOK-009",
            "Pocket Atlas of the Night Sky",
            "Star charts for every month, small enough for a coat pocket.",
            "15.00",
            44,
        ),
        DemoProduct("BOK-010", "Cooking with Fire", "Grilling, smoking and campfire cooking.", "34.00", 9),
    ),
    "fitness": (
        DemoProduct(
            "FIT-001", "Adjustable Dumbbells 2-24 kg", "One pair replaces fifteen sets of dumbbells.", "349.00", 6
        ),
        DemoProduct("FIT-002", "Yoga Mat 6 mm", "Non-slip natural rubber mat with alignment lines.", "49.00", 52),
        DemoProduct("FIT-003", "Resistance Bands Set", "Five latex bands from light to extra heavy.", "24.90", 88),
        DemoProduct("FIT-004", "Kettlebell 16 kg", "Cast iron kettlebell with a wide, smooth handle.", "59.00", 15),
        DemoProduct("FIT-005", "Foam Roller", "High-density roller for recovery after training.", "27.00", 47),
        DemoProduct(
            "FIT-006", "Jump Rope with Bearings", "Adjustable steel cable rope for fast double-unders.", "19.00", 73
        ),
        DemoProduct("FIT-007", "Pull-Up Bar", "Doorway bar that mounts without screws.", "39.00", 0),
        DemoProduct("FIT-008", "Running Shorts", "Lightweight shorts with a zipped back pocket.", "35.00", 41),
        DemoProduct(
            "FIT-009", "Heart Rate Chest Strap", "Bluetooth and ANT+ strap for accurate heart rate.", "69.00", 20
        ),
        DemoProduct("FIT-010", "Gym Bag 40 L", "Water-resistant duffel with a separate shoe compartment.", "59.00", 27),
    ),
    "garden": (
        DemoProduct(
            "GAR-001", "Stainless Steel Hand Trowel", "Sharp-edged trowel with an ash-wood handle.", "19.50", 66
        ),
        DemoProduct(
            "GAR-002", "Terracotta Planters (3)", "Handmade planters in three sizes with saucers.", "42.00", 24
        ),
        DemoProduct("GAR-003", "Pruning Shears", "Bypass secateurs for stems up to 20 mm.", "32.00", 31),
        DemoProduct("GAR-004", "Heirloom Tomato Seeds", "Six varieties of open-pollinated tomato seeds.", "8.90", 140),
        DemoProduct("GAR-005", "Watering Can 9 L", "Galvanised steel can with a brass rose.", "46.00", 0),
        DemoProduct("GAR-006", "Raised Garden Bed", "Cedar bed, 120 x 60 cm, no tools needed.", "139.00", 8),
        DemoProduct("GAR-007", "Garden Kneeler and Seat", "Flips from a padded kneeler to a low seat.", "44.00", 19),
        DemoProduct("GAR-008", "Compost Bin 300 L", "Recycled-plastic bin with a hatch at the bottom.", "69.00", 12),
        DemoProduct("GAR-009", "Solar Path Lights (6)", "Warm-white lights that charge during the day.", "36.00", 37),
        DemoProduct(
            "GAR-010", "Hose Reel Cart", "Steel reel cart with 30 m of hose (discontinued).", "89.00", 4, active=False
        ),
    ),
}
