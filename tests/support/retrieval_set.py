"""A small retrieval benchmark written for this project (public domain: CC0): 30 passages of general
knowledge and 45 queries, each answered by one passage. A third of the queries reuse the passage's rare
words (keyword search's home ground), a third paraphrase it with other words (vector search's), and a
third mix both. tests/e2e/test_retrieval_quality.py measures recall@5 and MRR of each search mode."""

from __future__ import annotations

PASSAGES: dict[str, str] = {
    "kepler": (
        "Johannes Kepler showed that planets travel in ellipses with the sun at one focus, and that a"
        " line from the sun to a planet sweeps out equal areas in equal times."
    ),
    "newton": (
        "Isaac Newton's law of universal gravitation states that every mass attracts every other mass"
        " with a force proportional to the product of the masses and inversely proportional to the "
        "square of the distance between them."
    ),
    "photosynthesis": (
        "Photosynthesis lets green plants turn sunlight, water and carbon dioxide into glucose and "
        "oxygen; chlorophyll in the chloroplasts absorbs mostly red and blue light."
    ),
    "mitochondria": (
        "Mitochondria are the organelles that produce most of a cell's ATP through cellular "
        "respiration, and they carry their own small circular genome inherited from the mother."
    ),
    "volcano": (
        "A stratovolcano is built from layers of hardened lava and ash; its viscous magma traps gas, "
        "which is why such volcanoes, like Mount Fuji or Vesuvius, erupt explosively."
    ),
    "tides": (
        "Ocean tides are raised mainly by the moon's gravity pulling unevenly on the Earth; when sun "
        "and moon line up at new and full moon, spring tides are highest."
    ),
    "sourdough": (
        "Sourdough bread is leavened by a starter of wild yeast and lactic acid bacteria, which gives"
        " the loaf its tangy flavour and keeps it fresh longer than bread made with baker's yeast."
    ),
    "tea": (
        "Green tea and black tea come from the same plant, Camellia sinensis; black tea leaves are "
        "oxidised before drying while green tea leaves are heated quickly to stop oxidation."
    ),
    "printing": (
        "Johannes Gutenberg's printing press with movable metal type, built in Mainz around 1450, "
        "made books far cheaper and helped spread literacy across Europe."
    ),
    "magna_carta": (
        "The Magna Carta, sealed by King John of England in 1215, limited the power of the crown and "
        "established that no free man could be imprisoned except by the lawful judgement of his "
        "peers."
    ),
    "silk_road": (
        "The Silk Road was a network of trade routes linking China with Central Asia, Persia and the "
        "Mediterranean, carrying silk, spices, paper and ideas for more than a thousand years."
    ),
    "pyramids": (
        "The Great Pyramid of Giza was built for the pharaoh Khufu around 2560 BC and remained the "
        "tallest structure made by people for nearly four thousand years."
    ),
    "vaccines": (
        "Edward Jenner tested the first vaccine in 1796, using material from cowpox sores to protect "
        "a boy against smallpox, a disease later eradicated worldwide in 1980."
    ),
    "penicillin": (
        "Alexander Fleming noticed in 1928 that a mould, Penicillium, killed the bacteria around it "
        "on a culture plate, which led to penicillin, the first widely used antibiotic."
    ),
    "dna": (
        "DNA is a double helix of two strands whose bases pair adenine with thymine and cytosine with"
        " guanine; the order of the bases encodes the instructions for building proteins."
    ),
    "plate_tectonics": (
        "The Earth's crust is broken into tectonic plates that drift a few centimetres a year on the "
        "mantle; where they collide, mountains rise and earthquakes strike."
    ),
    "rainbow": (
        "A rainbow appears when sunlight is refracted, reflected and dispersed inside raindrops, "
        "splitting white light into a spectrum from red on the outside to violet on the inside."
    ),
    "bees": (
        "Honey bees tell their hive mates where flowers are with a waggle dance whose angle points "
        "the direction relative to the sun and whose length signals the distance."
    ),
    "whales": (
        "Blue whales are the largest animals known to have lived; they feed almost entirely on krill,"
        " filtering huge mouthfuls of water through baleen plates."
    ),
    "chess": (
        "In chess, castling moves the king two squares toward a rook and puts the rook on the square "
        "the king crossed; it is allowed only if neither piece has moved and the king is not in "
        "check."
    ),
    "olympics": (
        "The ancient Olympic Games were held at Olympia in honour of Zeus every four years from 776 "
        "BC; the modern Games were revived by Pierre de Coubertin in Athens in 1896."
    ),
    "piano": (
        "The piano was invented by Bartolomeo Cristofori in Florence around 1700; unlike the "
        "harpsichord, its hammers strike the strings so a player can play loud or soft."
    ),
    "compass": (
        "A magnetic compass works because its needle, a small magnet, lines up with the Earth's "
        "magnetic field and points toward magnetic north, which differs slightly from true north."
    ),
    "steam_engine": (
        "James Watt's separate condenser made the steam engine far more efficient in the 1770s, "
        "powering the mills and mines of the Industrial Revolution."
    ),
    "telephone": (
        "Alexander Graham Bell was granted the patent for the telephone in 1876, a device that turned"
        " the voice into an electric current and back into sound at the other end."
    ),
    "moon_landing": (
        "Apollo 11 landed on the Moon on 20 July 1969; Neil Armstrong and Buzz Aldrin walked on the "
        "surface while Michael Collins orbited above in the command module."
    ),
    "coffee": (
        "Coffee beans are the roasted seeds of the Coffea plant's cherries; roasting browns them "
        "through the Maillard reaction and develops the aroma, while caffeine keeps drinkers awake."
    ),
    "glaciers": (
        "Glaciers form where more snow falls in winter than melts in summer; the snow compacts into "
        "ice that flows slowly downhill under its own weight, carving U-shaped valleys."
    ),
    "lightning": (
        "Lightning is a giant electrical discharge between charged regions of a thunderstorm cloud or"
        " between the cloud and the ground; the sudden heating of the air makes thunder."
    ),
    "binary": (
        "Computers store numbers in binary, base two, where each digit or bit is either zero or one; "
        "eight bits make a byte, which can hold 256 different values."
    ),
}

QUERIES: list[tuple[str, str]] = [
    # Rare words of the passage.
    ("Kepler ellipses equal areas", "kepler"),
    ("chlorophyll chloroplasts glucose", "photosynthesis"),
    ("Camellia sinensis oxidised", "tea"),
    ("Gutenberg Mainz movable type", "printing"),
    ("Khufu Giza", "pyramids"),
    ("Jenner cowpox smallpox", "vaccines"),
    ("Fleming Penicillium mould", "penicillin"),
    ("adenine thymine cytosine guanine", "dna"),
    ("waggle dance hive", "bees"),
    ("krill baleen", "whales"),
    ("castling rook king", "chess"),
    ("Cristofori harpsichord hammers", "piano"),
    ("Watt separate condenser", "steam_engine"),
    ("Armstrong Aldrin Collins command module", "moon_landing"),
    ("Maillard reaction caffeine", "coffee"),
    # Other words for the same meaning.
    ("why do planets move faster when closer to the star", "kepler"),
    ("how plants make food from light", "photosynthesis"),
    ("the powerhouse of the cell that makes energy", "mitochondria"),
    ("why some mountains explode violently", "volcano"),
    ("what makes the sea rise and fall twice a day", "tides"),
    ("a document from medieval England restricting royal authority", "magna_carta"),
    ("ancient trading paths between east and west", "silk_road"),
    ("the first medicine that cured infections caused by germs", "penicillin"),
    ("continents slowly moving and causing quakes", "plate_tectonics"),
    ("colours in the sky after rain", "rainbow"),
    ("the biggest creature that ever existed", "whales"),
    ("athletic contests in old Greece", "olympics"),
    ("a needle that always shows which way is north", "compass"),
    ("the first human steps on another world", "moon_landing"),
    ("rivers of ice shaping valleys", "glaciers"),
    # Both.
    ("gravity force inverse square distance", "newton"),
    ("cell ATP respiration genome", "mitochondria"),
    ("lava ash explosive eruption", "volcano"),
    ("moon gravity spring tides", "tides"),
    ("wild yeast tangy bread", "sourdough"),
    ("King John 1215 crown", "magna_carta"),
    ("silk spices trade routes China", "silk_road"),
    ("tectonic plates mountains earthquakes", "plate_tectonics"),
    ("refraction raindrops spectrum", "rainbow"),
    ("ancient Olympia Zeus modern Games", "olympics"),
    ("magnetic field needle north", "compass"),
    ("Bell patent voice electric current", "telephone"),
    ("snow compacts into ice flowing downhill", "glaciers"),
    ("thunderstorm discharge thunder", "lightning"),
    ("bits bytes base two", "binary"),
]
