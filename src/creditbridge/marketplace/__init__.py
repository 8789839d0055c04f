"""The financing marketplace (融资对接): products, demands, dispatch and grab, applications, loans."""
