/* Unit tests for intake.c's pure part: an image's type and wholeness from its bytes, and the
 * type a Content-Type header names; and that the photo route is the API's one upload route. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "intake.h"
#include "router.h"

static const unsigned char png[] = {
    0x89, 'P',  'N',  'G',  '\r', '\n', 0x1a, '\n', 0,   0,    0,    13,   'I',  'H',
    'D',  'R',  0,    0,    0,    1,    0,    0,    0,   1,    8,    2,    0,    0,
    0,    0x90, 'w',  'S',  0xde, 0,    0,    0,    12,  'I',  'D',  'A',  'T',  0x78,
    0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0,    0,    3,    1,   1,    0,    0xc9, 0xfe, 0x92,
    0xef, 0,    0,    0,    0,    'I',  'E',  'N',  'D', 0xae, 0x42, 0x60, 0x82};
static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 4, 'J', 'F', 0xff, 0xd9, 0, 0};
static const unsigned char webp[] = {'R', 'I', 'F', 'F', 16, 0, 0, 0, 'W',  'E', 'B', 'P',
                                     'V', 'P', '8', 'L', 4,  0, 0, 0, 0x2f, 0,   0,   0};

START_TEST(whole_images_are_recognised)
{
    bool whole;
    ck_assert_int_eq(intake_image_sniff(png, sizeof(png), &whole), INTAKE_IMAGE_PNG);
    ck_assert(whole);
    ck_assert_int_eq(intake_image_sniff(jpeg, sizeof(jpeg), &whole), INTAKE_IMAGE_JPEG);
    ck_assert(whole); /* zero padding after EOI is allowed */
    ck_assert_int_eq(intake_image_sniff(webp, sizeof(webp), &whole), INTAKE_IMAGE_WEBP);
    ck_assert(whole);
}
END_TEST

START_TEST(truncated_images_are_not_whole)
{
    bool whole;
    ck_assert_int_eq(intake_image_sniff(png, sizeof(png) - 1, &whole), INTAKE_IMAGE_PNG);
    ck_assert(!whole);
    ck_assert_int_eq(intake_image_sniff(jpeg, 8, &whole), INTAKE_IMAGE_JPEG);
    ck_assert(!whole);
    ck_assert_int_eq(intake_image_sniff(webp, sizeof(webp) - 2, &whole), INTAKE_IMAGE_WEBP);
    ck_assert(!whole);
}
END_TEST

START_TEST(other_bytes_are_nothing)
{
    bool whole = true;
    static const unsigned char gif[] = "GIF89a\1\0\1\0\0\0\0;";
    static const unsigned char text[] = "<html><script>alert(1)</script>";
    ck_assert_int_eq(intake_image_sniff(gif, sizeof(gif), &whole), INTAKE_IMAGE_NONE);
    ck_assert(!whole);
    ck_assert_int_eq(intake_image_sniff(text, sizeof(text), &whole), INTAKE_IMAGE_NONE);
    ck_assert_int_eq(intake_image_sniff(png, 0, &whole), INTAKE_IMAGE_NONE);
    ck_assert_int_eq(intake_image_sniff(png, 8, &whole), INTAKE_IMAGE_NONE); /* no IHDR */
    ck_assert_int_eq(intake_image_sniff(jpeg, 3, &whole), INTAKE_IMAGE_NONE);
}
END_TEST

START_TEST(content_type_headers)
{
    ck_assert_int_eq(intake_image_from_header("image/png"), INTAKE_IMAGE_PNG);
    ck_assert_int_eq(intake_image_from_header(" Image/JPEG; q=1"), INTAKE_IMAGE_JPEG);
    ck_assert_int_eq(intake_image_from_header("image/webp"), INTAKE_IMAGE_WEBP);
    ck_assert_int_eq(intake_image_from_header("image/pngx"), INTAKE_IMAGE_NONE);
    ck_assert_int_eq(intake_image_from_header("image/gif"), INTAKE_IMAGE_NONE);
    ck_assert_int_eq(intake_image_from_header(""), INTAKE_IMAGE_NONE);
    ck_assert_int_eq(intake_image_from_header(NULL), INTAKE_IMAGE_NONE);
    ck_assert_str_eq(intake_image_type(INTAKE_IMAGE_PNG), "image/png");
    ck_assert_ptr_null(intake_image_type(INTAKE_IMAGE_NONE));
}
END_TEST

START_TEST(the_photo_route_is_the_upload)
{
    /* The routes whose body is raw bytes, not JSON: a repair's photo and a tool's own report
     * (smartctl's JSON, upower's text). No other. */
    static const char *const expected[] = {"/api/repairs/{id}/photos",
                                           "/api/devices/{serial}/diagnostics/import"};
    int uploads = 0, photo = 0, import = 0;
    for (int i = 0; i < nroutes; i++) {
        if (router_is_upload(&routes[i])) {
            uploads++;
            ck_assert_str_eq(routes[i].method, "POST");
            photo += strcmp(routes[i].pattern, expected[0]) == 0;
            import += strcmp(routes[i].pattern, expected[1]) == 0;
        }
    }
    ck_assert_int_eq(photo, 1);
    ck_assert_int_eq(import, 1);
    ck_assert_int_eq(uploads, 2);
    ck_assert(!router_is_upload(NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("intake");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, whole_images_are_recognised);
    tcase_add_test(tc, truncated_images_are_not_whole);
    tcase_add_test(tc, other_bytes_are_nothing);
    tcase_add_test(tc, content_type_headers);
    tcase_add_test(tc, the_photo_route_is_the_upload);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
