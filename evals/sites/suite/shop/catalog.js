// The catalogue shared by the shop pages. Weights in grams.
const CATALOG = [
  {id: 1, name: "Brass desk lamp", price: 89.00, weight: 1850, about: "A solid brass lamp with a dimmable LED."},
  {id: 2, name: "Paper floor lamp", price: 64.50, weight: 2400, about: "A tall rice-paper lamp."},
  {id: 3, name: "Clip-on reading lamp", price: 19.99, weight: 240, about: "Clips to any shelf or bed frame."},
  {id: 4, name: "Glass pendant lamp", price: 120.00, weight: 1300, about: "Hand-blown glass shade."},
  {id: 5, name: "White porcelain mug", price: 9.50, weight: 310, about: "Dishwasher safe, 300 ml."},
  {id: 6, name: "Enamel camping mug", price: 12.00, weight: 180, about: "Chip-resistant enamel."},
  {id: 7, name: "Glass espresso mug", price: 8.25, weight: 150, about: "Double-walled, 90 ml."},
  {id: 8, name: "Bamboo travel mug", price: 15.75, weight: 220, about: "With a silicone lid."},
  {id: 9, name: "Striped breakfast mug", price: 11.00, weight: 330, about: "Blue and white stripes."},
  {id: 10, name: "Matte black mug", price: 13.50, weight: 340, about: "A glaze that hides stains."},
  {id: 11, name: "Giant soup mug", price: 17.25, weight: 520, about: "Holds 700 ml of soup."},
  {id: 12, name: "Copper moscow mule mug", price: 22.00, weight: 380, about: "Lined with nickel."},
  {id: 13, name: "Tin kids mug", price: 6.75, weight: 120, about: "Unbreakable and light."},
  {id: 14, name: "Speckled stoneware mug", price: 14.20, weight: 360, about: "Each one is unique."},
  {id: 15, name: "Insulated steel mug", price: 24.90, weight: 410, about: "Keeps coffee hot for 4 hours."},
  {id: 16, name: "Atlas hiking backpack", price: 139.00, weight: 1620, about: "45 litres with a rain cover."},
  {id: 17, name: "Nomad city backpack", price: 98.00, weight: 1150, about: "A laptop sleeve for 16 inch screens."},
  {id: 18, name: "Summit day pack", price: 59.00, weight: 690, about: "20 litres, hydration ready."},
];
function findProduct(id) { return CATALOG.find((p) => p.id === id); }
function money(value) { return "$" + value.toFixed(2); }
