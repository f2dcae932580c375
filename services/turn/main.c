/* starling-turn: see turn/service.h and docs/turn.md. */
#include "turn/service.h"

int main(int argc, char **argv) { return turn_service_main(argc, argv); }
