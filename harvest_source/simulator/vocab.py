"""Word lists for the fake account. Plain data, written for this project."""

FIRST_NAMES = (
    "Ada", "Bruno", "Chiara", "Dmytro", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kalani", "Lena",
    "Marek", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samir", "Tess", "Ugo", "Vera", "Wren", "Xavier",
    "Yara", "Zoltan", "Amara", "Bastian", "Cleo", "Darius", "Esme", "Felix", "Gaia", "Hamza", "Ilse", "Jamal",
    "Kira", "Liam", "Mina", "Nikos", "Olga", "Pablo", "Rina", "Sven", "Tomas", "Uma", "Viktor", "Wanda",
)
LAST_NAMES = (
    "Lovelace", "Kowalski", "Rossi", "Shevchenko", "Novak", "Haddad", "Lindqvist", "Tanaka", "Moreau", "Becker",
    "Okafor", "Jansen", "Horvat", "Petrov", "Silva", "Nakamura", "Dubois", "Fischer", "Costa", "Varga", "Olsen",
    "Mendes", "Kaur", "Brennan", "Duarte", "Eriksen", "Farrell", "Gallo", "Hansen", "Ivanova", "Kimura", "Larsen",
)
CLIENT_WORDS = (
    "Northwind", "Bluefin", "Copperleaf", "Driftwood", "Evergreen", "Foxglove", "Granite", "Harbor", "Ironbark",
    "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orchard", "Pinnacle", "Quarry", "Riverbend", "Saltmarsh",
    "Tidewater", "Umber", "Vantage", "Willow", "Yellowstone", "Zephyr", "Alder", "Basalt", "Cobalt", "Dune",
)
CLIENT_SUFFIXES = ("Labs", "Group", "Studios", "Partners", "Logistics", "Foods", "Health", "Energy", "Media", "Bank")
PROJECT_WORDS = (
    "Website Redesign", "Mobile App", "Brand Refresh", "Data Platform", "Marketing Campaign", "Support Retainer",
    "Onboarding Flow", "Checkout Revamp", "Analytics Dashboard", "API Integration", "Security Audit",
    "Content Strategy", "Cloud Migration", "Product Launch", "Annual Report", "Intranet", "SEO Program",
)
TASK_NAMES = (
    "Design", "Development", "Project Management", "Research", "Meetings", "Quality Assurance", "Copywriting",
    "Marketing", "Consulting", "Testing", "Deployment", "Support", "Training", "Analysis", "Illustration",
    "Photography", "Video Editing", "Documentation", "Code Review", "Planning", "Accessibility Review",
    "Data Modelling", "Infrastructure", "Localization", "Usability Testing", "Strategy", "Workshops",
    "Content Editing", "Performance Tuning", "Security Review",
)
EXPENSE_CATEGORIES = (
    # name, unit_name, unit_price (None when the category is priced per receipt)
    ("Mileage", "mile", 0.655),
    ("Lodging", None, None),
    ("Meals", None, None),
    ("Transportation", None, None),
    ("Software", None, None),
    ("Per Diem", "day", 50),
    ("Equipment", None, None),
    ("Entertainment", None, None),
)
ROLE_NAMES = ("Designer", "Developer", "Project Manager", "Marketing", "Sales", "Quality Assurance")
TIMEZONES = (
    "Eastern Time (US & Canada)", "Pacific Time (US & Canada)", "Central Time (US & Canada)", "London", "Berlin",
    "Kyiv", "Amsterdam", "Sydney", "Tokyo", "Madrid",
)
NOTES = (
    "Sprint planning", "Fixed layout bugs", "Client call", "Reviewed pull requests", "Wrote copy for landing page",
    "Refactored billing module", "Weekly sync", "Drafted wireframes", "Investigated outage", "Updated docs",
    "Prepared workshop material", "QA pass on release candidate", "Café meeting with the client — notes attached",
)
EXTRA_MANAGER_ROLES = (
    "project_creator", "billable_rates_manager", "managed_projects_invoice_drafter",
    "managed_projects_invoice_manager", "client_and_task_manager", "time_and_expenses_manager", "estimates_manager",
)
CURRENCIES = ("USD", "USD", "USD", "USD", "EUR", "EUR", "GBP", "CAD")
