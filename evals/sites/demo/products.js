// The catalogue the search and product pages share.
const PRODUCTS = [
  {id: 1, name: "Desk lamp", price: "24.99", stock: 12, about: "A steel desk lamp with a warm LED bulb."},
  {id: 2, name: "Floor lamp", price: "89.00", stock: 3, about: "A tall oak floor lamp for reading corners."},
  {id: 3, name: "Office chair", price: "149.50", stock: 0, about: "An adjustable chair with lumbar support."},
  {id: 4, name: "Standing desk", price: "399.00", stock: 5, about: "A desk that rises from 70 to 120 cm."},
  {id: 5, name: "Lamp shade", price: "12.75", stock: 40, about: "A linen shade that fits most lamps."},
];
