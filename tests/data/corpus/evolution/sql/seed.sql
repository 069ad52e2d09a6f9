-- Seed rows for scenario "evolution" (loaded before the connector starts; they arrive as snapshot events, op "r").
INSERT INTO public.items (id, name, qty, price) VALUES
  (1, 'hammer', 10, 12.50),
  (2, 'screwdriver', 25, 4.99),
  (3, 'wrench', NULL, 8.75);
