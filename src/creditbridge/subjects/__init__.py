"""Credit subjects (信用主体: enterprises, 个体工商户, 合作社) and the credit records held about them."""
