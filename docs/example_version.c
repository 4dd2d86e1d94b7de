/* The header a program was compiled with and the library it runs with:
 * a program built against one version and run with another can say so.
 *
 *   cc -std=c11 example_version.c $(pkg-config --cflags --libs taskroute) -o example_version
 */
#include <stdio.h>

#include <taskroute.h>

int main(void)
{
    printf("header %s library %s\n", TR_VERSION_STRING, tr_version());
    return 0;
}
