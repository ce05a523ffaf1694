"""Everything between a customer and Parlant: who calls (`identity`), the gateway that checks
each call (`gateway`), the limits per client address (`limits`), what a customer may see of a
session (`view`), refusals the official widget can show (`refused`), what the chat page says
while a person is awaited (`notices`) and their settings (`settings`)."""
