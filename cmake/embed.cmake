# Turns a file into a C source defining `hrg_demo_page` and its length,
# so the demo page ships inside the binary.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* Generated from gateway/demo.html; do not edit. */\n#include <stddef.h>\nconst unsigned char hrg_demo_page[] = {${body}0};\nconst size_t hrg_demo_page_size = ${len};\n")
