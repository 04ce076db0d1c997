namespace ipcspec { int g_order_placeholder_unit = 0; }
